// QuantizeLinear (ONNX, per tensor): y = saturate(round_half_even(x / scale) + zero_point), the
// codes held as whole-number floats (nn/ops/linear_quantization.hpp). Backward is the
// straight-through estimator of the rounding, dy/dx = 1 / scale where the code lies inside the
// type's range and 0 where it saturated, so QuantizeLinear followed by DequantizeLinear passes
// gradients unchanged inside the clipping range (quantization-aware training).
#include "nn/ops/linear_quantization.hpp"
#include "nn/ops/ops.hpp"

namespace shrink::ops {
namespace {

class QuantizeLinear final : public Op {
 public:
  explicit QuantizeLinear(const LinearQuantization& q) : q_(q) {}

  std::string type() const override { return "QuantizeLinear"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    return same_shape_output(type(), inputs);
  }

  void forward(const OpArgs& args, Tensor& output) override {
    const Tensor& x = single_input(type(), args);
    require_same_numel(type(), output, "output", x, "input");
    const float zero = static_cast<float>(q_.zero_point);
    const float lowest = static_cast<float>(q_.lowest());
    const float highest = static_cast<float>(q_.highest());
    for_each_block(x.numel(), [&](int64_t begin, int64_t count) {
      array_block(output.data(), begin, count) =
          ((array_block(x.data(), begin, count) / q_.scale).rint() + zero).max(lowest).min(highest);
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
    const float zero = static_cast<float>(q_.zero_point);
    const float lowest = static_cast<float>(q_.lowest());
    const float highest = static_cast<float>(q_.highest());
    for_each_block(x.numel(), [&](int64_t begin, int64_t count) {
      const auto code = (array_block(x.data(), begin, count) / q_.scale).rint() + zero;
      array_block(gx.data(), begin, count) =
          (code >= lowest && code <= highest)
              .select(array_block(grad_output.data(), begin, count) / q_.scale, 0.0f);
    });
  }

  nlohmann::json attributes() const override { return q_.attributes(); }

 private:
  LinearQuantization q_;
};

}  // namespace

std::unique_ptr<Op> make_quantize_linear(const Json& attributes) {
  return std::make_unique<QuantizeLinear>(LinearQuantization::read(attributes, "QuantizeLinear"));
}

}  // namespace shrink::ops
