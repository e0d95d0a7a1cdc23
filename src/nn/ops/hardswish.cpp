// Hardswish (ONNX HardSwish, PyTorch nn.Hardswish): y = x * max(0, min(1, x / 6 + 1 / 2)).
#include "nn/ops/op_support.hpp"
#include "nn/ops/ops.hpp"

namespace shrink::ops {
namespace {

class Hardswish final : public Op {
 public:
  std::string type() const override { return "Hardswish"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    return same_shape_output(type(), inputs);
  }

  void forward(const OpArgs& args, Tensor& output) override {
    const Tensor& x = single_input(type(), args);
    require_same_numel(type(), output, "output", x, "input");
    for_each_block(x.numel(), [&](int64_t begin, int64_t count) {
      const auto in = array_block(x.data(), begin, count);
      array_block(output.data(), begin, count) =
          in * (in * (1.0f / 6.0f) + 0.5f).max(0.0f).min(1.0f);
    });
  }

  // dy/dx = 0 below -3, x / 3 + 1/2 on [-3, 3], 1 above 3 (PyTorch's choice at the kinks).
  void backward(const OpArgs& args, const Tensor& output, const Tensor& grad_output,
                const std::vector<Tensor*>& grad_inputs) override {
    (void)output;
    const Tensor& x = single_input(type(), args);
    if (grad_inputs.empty() || grad_inputs[0] == nullptr) return;
    require_same_numel(type(), grad_output, "output gradient", x, "input");
    Tensor& gx = *grad_inputs[0];
    gx.resize(x.shape());
    for_each_block(x.numel(), [&](int64_t begin, int64_t count) {
      const auto in = array_block(x.data(), begin, count);
      const auto gy = array_block(grad_output.data(), begin, count);
      array_block(gx.data(), begin, count) =
          (in < -3.0f).select(0.0f, (in <= 3.0f).select(gy * (in * (1.0f / 3.0f) + 0.5f), gy));
    });
  }
};

}  // namespace

std::unique_ptr<Op> make_hardswish(const Json& attributes) {
  reject_unknown_attributes("Hardswish", attributes, {});
  return std::make_unique<Hardswish>();
}

}  // namespace shrink::ops
