// GradientQuantize: DoReFa-Net's k-bit gradients (Zhou et al. 2016, eq. 12). Forward is the
// identity; backward quantizes the gradient dr of each sample with stochastic rounding before
// it flows on:
//   dr_q = 2m (quantize_k(dr / (2m) + 1/2 + N(k)) - 1/2),  m = max |dr| over the sample,
// with quantize_k(r) = round((2^k - 1) r) / (2^k - 1) and N(k) = s / (2^k - 1), s uniform in
// [-1/2, 1/2): an unbiased rounding to 2^k levels. Attribute: bits (1..16). The noise comes
// from the model's seeded stream, so a seed gives the same training run. The quant.dorefa pass
// puts one after each quantized layer, where the paper quantizes the layer's output gradient.
#include "nn/ops/bits_attribute.hpp"
#include "nn/ops/op_support.hpp"
#include "nn/ops/ops.hpp"

#include <cmath>

namespace shrink::ops {
namespace {

class GradientQuantize final : public Op {
 public:
  explicit GradientQuantize(int64_t bits) : bits_(bits) {}

  std::string type() const override { return "GradientQuantize"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    return same_shape_output(type(), inputs);
  }

  void forward(const OpArgs& args, Tensor& output) override {
    const Tensor& x = single_input(type(), args);
    require_same_numel(type(), output, "output", x, "input");
    std::copy(x.begin(), x.end(), output.begin());
  }

  void backward(const OpArgs& args, const Tensor& output, const Tensor& grad_output,
                const std::vector<Tensor*>& grad_inputs) override {
    (void)output;
    const Tensor& x = single_input(type(), args);
    if (grad_inputs.empty() || grad_inputs[0] == nullptr) return;
    require_same_numel(type(), grad_output, "output gradient", x, "input");
    if (args.rng == nullptr) throw Error::internal("GradientQuantize needs a random stream");
    Tensor& gx = *grad_inputs[0];
    gx.resize(x.shape());
    const float levels = static_cast<float>((int64_t{1} << bits_) - 1);
    const int64_t samples = x.dim(0);
    const int64_t size = samples ? x.numel() / samples : 0;
    for (int64_t s = 0; s < samples; ++s) {
      const float* dy = grad_output.data() + s * size;
      float* dx = gx.data() + s * size;
      float m = 0.0f;
      for (int64_t i = 0; i < size; ++i) m = std::max(m, std::abs(dy[i]));
      if (!(m > 0.0f) || !std::isfinite(m)) {
        std::copy(dy, dy + size, dx);  // all zero (or diverged: the loss check reports it)
        continue;
      }
      for (int64_t i = 0; i < size; ++i) {
        const float noise = args.rng->uniform(-0.5f, 0.5f);
        const float code = std::clamp(std::nearbyint(levels * (dy[i] / (2.0f * m) + 0.5f) + noise),
                                      0.0f, levels);
        dx[i] = 2.0f * m * (code / levels - 0.5f);
      }
    }
  }

  nlohmann::json attributes() const override { return {{"bits", bits_}}; }

 private:
  int64_t bits_;
};

}  // namespace

std::unique_ptr<Op> make_gradient_quantize(const Json& attributes) {
  reject_unknown_attributes("GradientQuantize", attributes, {"bits"});
  return std::make_unique<GradientQuantize>(read_bits_attribute(attributes, "GradientQuantize"));
}

}  // namespace shrink::ops
