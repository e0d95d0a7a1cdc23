// Hardsigmoid (ONNX): y = max(0, min(1, alpha * x + beta)) with ONNX's defaults alpha 0.2,
// beta 0.5. PyTorch's nn.Hardsigmoid is alpha 1/6, beta 0.5 (its exporter writes those).
#include "nn/ops/op_support.hpp"
#include "nn/ops/ops.hpp"

#include <cmath>

namespace shrink::ops {
namespace {

class Hardsigmoid final : public Op {
 public:
  Hardsigmoid(double alpha, double beta) : alpha_(alpha), beta_(beta) {}

  std::string type() const override { return "Hardsigmoid"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    return same_shape_output(type(), inputs);
  }

  void forward(const OpArgs& args, Tensor& output) override {
    const Tensor& x = single_input(type(), args);
    require_same_numel(type(), output, "output", x, "input");
    const float alpha = static_cast<float>(alpha_), beta = static_cast<float>(beta_);
    for_each_block(x.numel(), [&](int64_t begin, int64_t count) {
      array_block(output.data(), begin, count) =
          (array_block(x.data(), begin, count) * alpha + beta).max(0.0f).min(1.0f);
    });
  }

  // Slope alpha strictly inside the linear region, 0 on the flat parts (as PyTorch).
  void backward(const OpArgs& args, const Tensor& output, const Tensor& grad_output,
                const std::vector<Tensor*>& grad_inputs) override {
    (void)output;
    const Tensor& x = single_input(type(), args);
    if (grad_inputs.empty() || grad_inputs[0] == nullptr) return;
    require_same_numel(type(), grad_output, "output gradient", x, "input");
    Tensor& gx = *grad_inputs[0];
    gx.resize(x.shape());
    const float alpha = static_cast<float>(alpha_), beta = static_cast<float>(beta_);
    for_each_block(x.numel(), [&](int64_t begin, int64_t count) {
      const auto z = array_block(x.data(), begin, count) * alpha + beta;
      const auto gy = array_block(grad_output.data(), begin, count);
      array_block(gx.data(), begin, count) = (z > 0.0f && z < 1.0f).select(gy * alpha, 0.0f);
    });
  }

  Json attributes() const override { return {{"alpha", alpha_}, {"beta", beta_}}; }

 private:
  double alpha_, beta_;
};

}  // namespace

std::unique_ptr<Op> make_hardsigmoid(const Json& attributes) {
  reject_unknown_attributes("Hardsigmoid", attributes, {"alpha", "beta"});
  const double alpha = attributes.value("alpha", 0.2);
  const double beta = attributes.value("beta", 0.5);
  require(std::isfinite(alpha) && std::isfinite(beta),
          "Hardsigmoid: alpha and beta must be finite numbers, got " + std::to_string(alpha) +
              " and " + std::to_string(beta));
  return std::make_unique<Hardsigmoid>(alpha, beta);
}

}  // namespace shrink::ops
