// DequantizeLinear (ONNX, per tensor): y = (x - zero_point) * scale, x the codes of a
// QuantizeLinear (whole-number floats; nn/ops/linear_quantization.hpp). Linear, so its backward
// is exact: dx = dy * scale. With a learned step (learned_step) the scale is the step of the
// QuantizeLinear it reads, shared; that op computes the pair's step gradient.
#include "nn/ops/linear_quantization.hpp"
#include "nn/ops/ops.hpp"

namespace shrink::ops {
namespace {

class DequantizeLinear final : public LinearQuantizationOp {
 public:
  using LinearQuantizationOp::LinearQuantizationOp;
  std::string type() const override { return "DequantizeLinear"; }

 private:
  std::string step_parameter() const override { return "input:step"; }
  void map_block(ConstBlock x, Block y) const override {
    y = (x - static_cast<float>(q_.zero_point)) * q_.scale;
  }
  void gradient_block(ConstBlock, ConstBlock dy, Block dx) const override { dx = dy * q_.scale; }
};

}  // namespace

std::unique_ptr<Op> make_dequantize_linear(const Json& attributes) {
  return std::make_unique<DequantizeLinear>(LinearQuantization::read(attributes, "DequantizeLinear"));
}

}  // namespace shrink::ops
