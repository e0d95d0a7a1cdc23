// QuantizeLinear (ONNX, per tensor): y = saturate(round_half_even(x / scale) + zero_point), the
// codes held as whole-number floats (nn/ops/linear_quantization.hpp). Backward is the
// straight-through estimator of the rounding, dy/dx = 1 / scale where the code lies inside the
// type's range and 0 where it saturated, so QuantizeLinear followed by DequantizeLinear passes
// gradients unchanged inside the clipping range (quantization-aware training).
#include "nn/ops/linear_quantization.hpp"
#include "nn/ops/ops.hpp"

namespace shrink::ops {
namespace {

class QuantizeLinear final : public LinearQuantizationOp {
 public:
  using LinearQuantizationOp::LinearQuantizationOp;
  std::string type() const override { return "QuantizeLinear"; }

 private:
  void map_block(ConstBlock x, Block y) const override {
    const float zero = static_cast<float>(q_.zero_point);
    const float lowest = static_cast<float>(q_.lowest()), highest = static_cast<float>(q_.highest());
    y = ((x / q_.scale).rint() + zero).max(lowest).min(highest);
  }
  void gradient_block(ConstBlock x, ConstBlock dy, Block dx) const override {
    const auto code = (x / q_.scale).rint() + static_cast<float>(q_.zero_point);
    dx = (code >= static_cast<float>(q_.lowest()) && code <= static_cast<float>(q_.highest()))
             .select(dy / q_.scale, 0.0f);
  }
};

}  // namespace

std::unique_ptr<Op> make_quantize_linear(const Json& attributes) {
  return std::make_unique<QuantizeLinear>(LinearQuantization::read(attributes, "QuantizeLinear"));
}

}  // namespace shrink::ops
