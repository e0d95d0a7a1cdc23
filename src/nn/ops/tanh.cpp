// Tanh: y = tanh(x).
#include "nn/ops/op_support.hpp"
#include "nn/ops/ops.hpp"

namespace shrink::ops {
namespace {

class Tanh final : public Op {
 public:
  std::string type() const override { return "Tanh"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    return same_shape_output(type(), inputs);
  }

  void forward(const OpArgs& args, Tensor& output) override {
    const Tensor& x = single_input(type(), args);
    require_same_numel(type(), output, "output", x, "input");
    for_each_block(x.numel(), [&](int64_t begin, int64_t count) {
      array_block(output.data(), begin, count) = array_block(x.data(), begin, count).tanh();
    });
  }

  // dy/dx = 1 - y^2, taken from the output.
  void backward(const OpArgs& args, const Tensor& output, const Tensor& grad_output,
                const std::vector<Tensor*>& grad_inputs) override {
    const Tensor& x = single_input(type(), args);
    if (grad_inputs.empty() || grad_inputs[0] == nullptr) return;
    require_same_numel(type(), output, "output", x, "input");
    require_same_numel(type(), grad_output, "output gradient", x, "input");
    Tensor& gx = *grad_inputs[0];
    gx.resize(x.shape());
    for_each_block(x.numel(), [&](int64_t begin, int64_t count) {
      const auto y = array_block(output.data(), begin, count);
      array_block(gx.data(), begin, count) =
          array_block(grad_output.data(), begin, count) * (1.0f - y.square());
    });
  }
};

}  // namespace

std::unique_ptr<Op> make_tanh(const Json& attributes) {
  reject_unknown_attributes("Tanh", attributes, {});
  return std::make_unique<Tanh>();
}

}  // namespace shrink::ops
