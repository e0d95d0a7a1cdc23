// Clip (ONNX): y = min(max(x, min), max); a missing bound is no bound (ReLU6 is min 0, max 6).
// The gradient passes where min <= x <= max, as PyTorch's clamp does; ONNX leaves it undefined.
#include "nn/ops/op_support.hpp"
#include "nn/ops/ops.hpp"

#include <cmath>
#include <limits>
#include <optional>

namespace shrink::ops {
namespace {

class Clip final : public Op {
 public:
  Clip(std::optional<float> min, std::optional<float> max) : min_(min), max_(max) {}

  std::string type() const override { return "Clip"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    return same_shape_output(type(), inputs);
  }

  void forward(const OpArgs& args, Tensor& output) override {
    const Tensor& x = single_input(type(), args);
    require_same_numel(type(), output, "output", x, "input");
    const float lo = low(), hi = high();
    for_each_block(x.numel(), [&](int64_t begin, int64_t count) {
      array_block(output.data(), begin, count) =
          array_block(x.data(), begin, count).max(lo).min(hi);
    });
  }

  void backward(const OpArgs& args, const Tensor& output, const Tensor& grad_output,
                const std::vector<Tensor*>& grad_inputs) override {
    (void)output;
    const Tensor& x = single_input(type(), args);
    if (grad_inputs.empty() || grad_inputs[0] == nullptr) return;
    require_same_numel(type(), grad_output, "output gradient", x, "input");
    Tensor& gx = *grad_inputs[0];
    gx.resize(x.shape());
    const float lo = low(), hi = high();
    for_each_block(x.numel(), [&](int64_t begin, int64_t count) {
      const auto in = array_block(x.data(), begin, count);
      const auto gy = array_block(grad_output.data(), begin, count);
      array_block(gx.data(), begin, count) = (in >= lo && in <= hi).select(gy, 0.0f);
    });
  }

  Json attributes() const override {
    Json a = Json::object();
    if (min_) a["min"] = *min_;
    if (max_) a["max"] = *max_;
    return a;
  }

 private:
  float low() const { return min_.value_or(-std::numeric_limits<float>::infinity()); }
  float high() const { return max_.value_or(std::numeric_limits<float>::infinity()); }

  std::optional<float> min_, max_;
};

std::optional<float> bound(const Json& attributes, const char* name) {
  if (!attributes.contains(name) || attributes.at(name).is_null()) return std::nullopt;
  const float value = attributes.at(name).get<float>();
  require(!std::isnan(value), std::string("Clip: ") + name + " must be a number, got NaN");
  return value;
}

}  // namespace

std::unique_ptr<Op> make_clip(const Json& attributes) {
  reject_unknown_attributes("Clip", attributes, {"min", "max"});
  return std::make_unique<Clip>(bound(attributes, "min"), bound(attributes, "max"));
}

}  // namespace shrink::ops
