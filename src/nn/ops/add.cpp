// Add: elementwise sum of two or more inputs of the same shape (residual connections).
// Broadcasting is not supported.
#include "nn/ops/op_support.hpp"
#include "nn/ops/ops.hpp"

namespace shrink::ops {
namespace {

class Add final : public Op {
 public:
  std::string type() const override { return "Add"; }
  int arity() const override { return -1; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    require(inputs.size() >= 2,
            "Add takes at least 2 inputs, got " + std::to_string(inputs.size()));
    for (size_t i = 1; i < inputs.size(); ++i)
      require(inputs[i] == inputs[0],
              "Add: input " + std::to_string(i) + " has shape " + to_string(inputs[i]) +
                  " but input 0 has shape " + to_string(inputs[0]) +
                  "; all inputs must have the same shape (no broadcasting)");
    return inputs[0];
  }

  void forward(const OpArgs& args, Tensor& output) override {
    check_inputs(args);
    const Tensor& first = *args.inputs[0];
    require_same_numel(type(), output, "output", first, "input 0");
    for_each_block(first.numel(), [&](int64_t begin, int64_t count) {
      auto out = array_block(output.data(), begin, count);
      out = array_block(first.data(), begin, count) +
            array_block(args.inputs[1]->data(), begin, count);
      for (size_t i = 2; i < args.inputs.size(); ++i)
        out += array_block(args.inputs[i]->data(), begin, count);
    });
  }

  void backward(const OpArgs& args, const Tensor& output, const Tensor& grad_output,
                const std::vector<Tensor*>& grad_inputs) override {
    (void)output;
    check_inputs(args);
    require_same_numel(type(), grad_output, "output gradient", *args.inputs[0], "input 0");
    for (size_t i = 0; i < grad_inputs.size() && i < args.inputs.size(); ++i) {
      if (grad_inputs[i] == nullptr) continue;
      Tensor& gx = *grad_inputs[i];
      gx.resize(args.inputs[i]->shape());
      for_each_block(gx.numel(), [&](int64_t begin, int64_t count) {
        array_block(gx.data(), begin, count) = array_block(grad_output.data(), begin, count);
      });
    }
  }

 private:
  void check_inputs(const OpArgs& args) const {
    std::vector<Shape> shapes;
    for (const Tensor* t : args.inputs) {
      if (t == nullptr) throw Error::internal("Add was run with a missing input");
      shapes.push_back(t->shape());
    }
    output_shape(shapes);
  }
};

}  // namespace

std::unique_ptr<Op> make_add(const Json& attributes) {
  reject_unknown_attributes("Add", attributes, {});
  return std::make_unique<Add>();
}

}  // namespace shrink::ops
