// Sigmoid: y = 1 / (1 + exp(-x)); Eigen's logistic() stays accurate for large |x|.
#include "nn/ops/op_support.hpp"
#include "nn/ops/ops.hpp"

namespace shrink::ops {
namespace {

class Sigmoid final : public Op {
 public:
  std::string type() const override { return "Sigmoid"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    return same_shape_output(type(), inputs);
  }

  void forward(const OpArgs& args, Tensor& output) override {
    const Tensor& x = single_input(type(), args);
    require_same_numel(type(), output, "output", x, "input");
    for_each_block(x.numel(), [&](int64_t begin, int64_t count) {
      array_block(output.data(), begin, count) = array_block(x.data(), begin, count).logistic();
    });
  }

  // dy/dx = y (1 - y), taken from the output so the exponentials are not recomputed.
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
          array_block(grad_output.data(), begin, count) * y * (1.0f - y);
    });
  }
};

}  // namespace

std::unique_ptr<Op> make_sigmoid(const Json& attributes) {
  reject_unknown_attributes("Sigmoid", attributes, {});
  return std::make_unique<Sigmoid>();
}

}  // namespace shrink::ops
