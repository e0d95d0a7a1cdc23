// dorefa: DoReFa-Net's k-bit weights (Zhou et al. 2016). With m = max |tanh(w)| over the layer,
//   k > 1: w becomes 2 * quantize_k(tanh(w) / (2m) + 1/2) - 1, quantize_k(r) = round((2^k - 1) r)
//          / (2^k - 1) (round half to even): 2^k levels evenly spaced in [-1, 1], code q standing
//          for 2q / (2^k - 1) - 1;
//   k = 1: w becomes E(|w|) * sign(w), code 0 for +E and 1 for -E.
// The weights leave their float scale behind (they lie in [-1, 1]): the format is meant for
// training from scratch, with the activation and gradient quantizers of the quant.dorefa pass.
// Gradients pass straight through the rounding and are carried through tanh and the division by
// m (m itself is held constant), as in the paper's implementation; for k = 1 they pass straight
// through. Statistics leave pruned weights out.
#include "nn/quant/quant_support.hpp"

#include <algorithm>
#include <cmath>

namespace shrink {
namespace {

constexpr int kMinDorefaBits = 1;
constexpr int kMaxDorefaBits = 8;

class DoReFaQuantizer final : public Quantizer {
 public:
  explicit DoReFaQuantizer(int bits) : bits_(bits) {}

  const QuantizerFormat& format() const override { return kDoReFaFormat; }
  std::unique_ptr<Quantizer> clone() const override { return std::make_unique<DoReFaQuantizer>(*this); }
  nlohmann::json options() const override { return {{"bits", bits_}}; }
  int bits() const override { return bits_; }

  void follow(const Tensor& latent, const Tensor& mask) override {
    if (bits_ == 1) {
      scale_ = quant::mean_abs(latent, mask, 0, latent.numel());
      return;
    }
    float largest = 0.0f;
    for (int64_t i = 0; i < latent.numel(); ++i)
      if (quant::counts(mask, i)) largest = std::max(largest, std::abs(std::tanh(latent[i])));
    largest_tanh_ = largest > 0.0f ? largest : 1.0f;
  }

  void fake_quantize(const Tensor& latent, Tensor& effective) const override {
    for (int64_t i = 0; i < latent.numel(); ++i) effective[i] = value_of(code_of_latent(latent[i]));
  }

  void backward(const Tensor& latent, Tensor& grad) override {
    if (bits_ == 1) return;
    // d/dw [2 (tanh(w) / (2m) + 1/2) - 1] = (1 - tanh(w)^2) / m.
    for (int64_t i = 0; i < latent.numel(); ++i) {
      const float t = std::tanh(latent[i]);
      grad[i] *= (1.0f - t * t) / largest_tanh_;
    }
  }

  void encode(const Tensor& effective, std::span<uint32_t> codes) const override {
    for (int64_t i = 0; i < effective.numel(); ++i) {
      const float v = effective[i];
      codes[static_cast<size_t>(i)] =
          bits_ == 1 ? (std::signbit(v) ? 1u : 0u)
                     : static_cast<uint32_t>(std::clamp(std::nearbyint((v + 1.0f) * 0.5f * max_code()),
                                                        0.0f, max_code()));
    }
  }

  void decode(std::span<const uint32_t> codes, Tensor& values) const override {
    for (int64_t i = 0; i < values.numel(); ++i) {
      const uint32_t code = codes[static_cast<size_t>(i)];
      quant::require_code(code, static_cast<uint32_t>(max_code()), "dorefa");
      values[i] = value_of(code);
    }
  }

  void write_state(std::string& out) const override {
    bytes::put_u8(out, static_cast<uint8_t>(bits_));
    if (bits_ == 1) bytes::put_f32(out, scale_);
  }

  static std::unique_ptr<Quantizer> make(const nlohmann::json& json, const Tensor&) {
    JsonOptions options = quant::quantizer_options("dorefa", json);
    const int bits = quant::read_bits(options, "dorefa", 4, kMinDorefaBits, kMaxDorefaBits);
    options.finish();
    return std::make_unique<DoReFaQuantizer>(bits);
  }

  static std::unique_ptr<Quantizer> read_state(std::string_view state, const Shape&) {
    bytes::Reader in = quant::state_reader(state, "dorefa");
    const int bits = in.u8("bit width");
    require(bits >= kMinDorefaBits && bits <= kMaxDorefaBits,
            "dorefa state has a bit width of " + std::to_string(bits) + "; it must be 1..8");
    auto quantizer = std::make_unique<DoReFaQuantizer>(bits);
    if (bits == 1) quantizer->scale_ = quant::read_non_negative(in, "scale");
    in.finish();
    return quantizer;
  }

 private:
  float max_code() const { return static_cast<float>((1 << bits_) - 1); }

  uint32_t code_of_latent(float w) const {
    if (bits_ == 1) return w < 0.0f ? 1u : 0u;
    const float r = std::tanh(w) / (2.0f * largest_tanh_) + 0.5f;
    return static_cast<uint32_t>(std::clamp(std::nearbyint(r * max_code()), 0.0f, max_code()));
  }

  float value_of(uint32_t code) const {
    if (bits_ == 1) return code ? -scale_ : scale_;
    return 2.0f * static_cast<float>(code) / max_code() - 1.0f;
  }

  int bits_;
  float largest_tanh_ = 1.0f;  // m, for k > 1
  float scale_ = 1.0f;         // E(|w|), for k = 1
};

}  // namespace

const QuantizerFormat kDoReFaFormat = {
    "dorefa", "k bits (k = 1..8) through tanh, evenly spaced in [-1, 1] (DoReFa-Net)",
    DoReFaQuantizer::make, DoReFaQuantizer::read_state};

}  // namespace shrink
