// LeakyReLU: y = x for x > 0, negative_slope * x otherwise (PyTorch's default slope 0.01).
#include "nn/ops/op_support.hpp"
#include "nn/ops/ops.hpp"

#include <cmath>

namespace shrink::ops {
namespace {

class LeakyReLU final : public Op {
 public:
  explicit LeakyReLU(double negative_slope) : negative_slope_(negative_slope) {}

  std::string type() const override { return "LeakyReLU"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    return same_shape_output(type(), inputs);
  }

  void forward(const OpArgs& args, Tensor& output) override {
    const Tensor& x = single_input(type(), args);
    require_same_numel(type(), output, "output", x, "input");
    const float slope = static_cast<float>(negative_slope_);
    for_each_block(x.numel(), [&](int64_t begin, int64_t count) {
      const auto in = array_block(x.data(), begin, count);
      array_block(output.data(), begin, count) = (in > 0.0f).select(in, in * slope);
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
    const float slope = static_cast<float>(negative_slope_);
    for_each_block(x.numel(), [&](int64_t begin, int64_t count) {
      const auto in = array_block(x.data(), begin, count);
      const auto gy = array_block(grad_output.data(), begin, count);
      array_block(gx.data(), begin, count) = (in > 0.0f).select(gy, gy * slope);
    });
  }

  Json attributes() const override { return {{"negative_slope", negative_slope_}}; }

 private:
  double negative_slope_;
};

}  // namespace

std::unique_ptr<Op> make_leaky_relu(const Json& attributes) {
  reject_unknown_attributes("LeakyReLU", attributes, {"negative_slope"});
  const double slope = attributes.value("negative_slope", 0.01);
  require(std::isfinite(slope),
          "LeakyReLU: negative_slope must be a finite number, got " + Json(slope).dump());
  return std::make_unique<LeakyReLU>(slope);
}

}  // namespace shrink::ops
