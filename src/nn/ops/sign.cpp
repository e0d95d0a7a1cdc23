// Sign: binary activations, y = +1 for x >= 0 and -1 for x < 0 (NaN stays NaN). Backward is the
// clipped straight-through estimator of BinaryNet and XNOR-Net: the gradient passes where
// |x| <= 1 and is zero beyond, as if the forward pass were hardtanh. The quant.binary pass puts
// one in front of each binarized layer that opts into binary activations; a Linear reading a
// Sign's output with binary weights runs the XNOR-popcount kernel at inference.
#include "nn/ops/op_support.hpp"
#include "nn/ops/ops.hpp"

namespace shrink::ops {
namespace {

class Sign final : public Op {
 public:
  std::string type() const override { return "Sign"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    return same_shape_output(type(), inputs);
  }

  void forward(const OpArgs& args, Tensor& output) override {
    const Tensor& x = single_input(type(), args);
    require_same_numel(type(), output, "output", x, "input");
    for_each_block(x.numel(), [&](int64_t begin, int64_t count) {
      const auto in = array_block(x.data(), begin, count);
      array_block(output.data(), begin, count) =
          (in >= 0.0f).select(1.0f, (in < 0.0f).select(-1.0f, in));
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
      const auto in = array_block(x.data(), begin, count);
      array_block(gx.data(), begin, count) =
          (in.abs() <= 1.0f).select(array_block(grad_output.data(), begin, count), 0.0f);
    });
  }
};

}  // namespace

std::unique_ptr<Op> make_sign(const Json& attributes) {
  reject_unknown_attributes("Sign", attributes, {});
  return std::make_unique<Sign>();
}

}  // namespace shrink::ops
