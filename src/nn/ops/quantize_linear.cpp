// QuantizeLinear (ONNX, per tensor): y = saturate(round_half_even(x / scale) + zero_point), the
// codes held as whole-number floats (nn/ops/linear_quantization.hpp). Backward is the
// straight-through estimator of the rounding, dy/dx = 1 / scale where the code lies inside the
// type's range and 0 where it saturated, so QuantizeLinear followed by DequantizeLinear passes
// gradients unchanged inside the clipping range (quantization-aware training).
//
// With a learned step (attribute learned_step, LSQ: Esser et al. 2020, "Learned Step Size
// Quantization") the scale s is the parameter "<node>.step", which the DequantizeLinear behind
// shares, and backward gives it the gradient of the pair's output v^ = (q - z) s:
//   dv^/ds = round(v/s) - v/s      when -Q_N <= v/s <= Q_P  (the straight-through estimator
//          = -Q_N or Q_P           when v is clipped low or high   of the rounding)
// with Q_N = z - lowest, Q_P = highest - z, scaled by g = 1 / sqrt(N Q_P), N the elements of one
// sample (the paper's number of features), so the step learns at the pace of the weights. The
// input's gradient is the straight-through estimator inside [-Q_N, Q_P] and 0 outside. The
// DequantizeLinear contributes no step gradient of its own: the whole pair's is computed here.
#include "nn/ops/linear_quantization.hpp"
#include "nn/ops/ops.hpp"

namespace shrink::ops {
namespace {

class QuantizeLinear final : public LinearQuantizationOp {
 public:
  using LinearQuantizationOp::LinearQuantizationOp;
  std::string type() const override { return "QuantizeLinear"; }

  void backward(const OpArgs& args, const Tensor& output, const Tensor& grad_output,
                const std::vector<Tensor*>& grad_inputs) override {
    if (!q_.learned_step) {
      LinearQuantizationOp::backward(args, output, grad_output, grad_inputs);
      return;
    }
    const Tensor& x = single_input(type(), args);
    require_same_numel(type(), grad_output, "output gradient", x, "input");
    Tensor* gx = grad_inputs.empty() ? nullptr : grad_inputs[0];
    if (gx != nullptr) gx->resize(x.shape());
    const float s = q_.scale, z = static_cast<float>(q_.zero_point);
    const float lowest = static_cast<float>(q_.lowest()), highest = static_cast<float>(q_.highest());
    const float positive = highest - z > 0.0f ? highest - z : z - lowest;  // Q_P (> 0)
    const int64_t features = x.numel() / std::max<int64_t>(1, x.shape()[0]);
    const double g = 1.0 / std::sqrt(static_cast<double>(features) * positive);
    double step_grad = 0.0;
    for (int64_t i = 0; i < x.numel(); ++i) {
      const float ratio = x[i] / s;
      const float code = std::min(std::max(std::rint(ratio) + z, lowest), highest);
      const bool inside = ratio + z >= lowest && ratio + z <= highest;
      const float dv = grad_output[i] / s;  // d loss / d v^: the DequantizeLinear multiplied by s
      step_grad += double{dv} * ((code - z) - (inside ? ratio : 0.0f));
      if (gx != nullptr) (*gx)[i] = inside ? grad_output[i] / s : 0.0f;
    }
    Parameter& step = *args.params.at(0);
    if (step.trainable) step.grad[0] += static_cast<float>(g * step_grad);
  }

 private:
  std::string step_parameter() const override { return "step"; }
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
