// Squeeze (ONNX): removes the listed size-1 axes (negative counts from the end); without
// "axes", every size-1 axis but the batch axis. Squeezing the batch axis 0 is an error, since
// the batch size is only 1 at build time.
#include "nn/ops/axes.hpp"
#include "nn/ops/op_support.hpp"
#include "nn/ops/ops.hpp"

#include <optional>

namespace shrink::ops {
namespace {

class Squeeze final : public Op {
 public:
  explicit Squeeze(std::optional<std::vector<int64_t>> axes) : axes_(std::move(axes)) {}

  std::string type() const override { return "Squeeze"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    require(inputs.size() == 1, "Squeeze takes 1 input, got " + std::to_string(inputs.size()));
    const Shape& x = inputs[0];
    require(!x.empty(), "Squeeze needs a batch-first input [N, ...], got a scalar shape []");
    const int64_t rank = static_cast<int64_t>(x.size());
    std::vector<char> drop(x.size(), 0);
    if (axes_) {
      for (int64_t axis : *axes_) {
        const int64_t a = normalize_axis("Squeeze", "axis", axis, rank, x);
        require(a != 0, "Squeeze: axis " + std::to_string(axis) + " is the batch axis of input " +
                            to_string(x) + "; the batch axis cannot be squeezed");
        require(x[static_cast<size_t>(a)] == 1,
                "Squeeze: axis " + std::to_string(axis) + " of input " + to_string(x) +
                    " has size " + std::to_string(x[static_cast<size_t>(a)]) + ", not 1");
        drop[static_cast<size_t>(a)] = 1;
      }
    } else {
      for (size_t a = 1; a < x.size(); ++a) drop[a] = x[a] == 1;
    }
    Shape out;
    for (size_t a = 0; a < x.size(); ++a)
      if (!drop[a]) out.push_back(x[a]);
    return out;
  }

  void forward(const OpArgs& args, Tensor& output) override {
    const Tensor& x = single_input(type(), args);
    require_same_numel(type(), output, "output", x, "input");
    for_each_block(x.numel(), [&](int64_t begin, int64_t count) {
      array_block(output.data(), begin, count) = array_block(x.data(), begin, count);
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
    for_each_block(x.numel(), [&](int64_t begin, int64_t count) {
      array_block(gx.data(), begin, count) = array_block(grad_output.data(), begin, count);
    });
  }

  Json attributes() const override {
    if (!axes_) return Json::object();
    return {{"axes", *axes_}};
  }

 private:
  std::optional<std::vector<int64_t>> axes_;
};

}  // namespace

std::unique_ptr<Op> make_squeeze(const Json& attributes) {
  reject_unknown_attributes("Squeeze", attributes, {"axes"});
  std::optional<std::vector<int64_t>> axes;
  if (attributes.contains("axes")) axes = json_ints(attributes, "axes");
  return std::make_unique<Squeeze>(std::move(axes));
}

}  // namespace shrink::ops
