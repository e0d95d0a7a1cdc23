// fp16 and bf16: each weight rounded to the nearest IEEE half (binary16) or bfloat16 value,
// ties to even, and stored as its 16 bits. A weight beyond the format's largest finite value
// saturates to it (instead of becoming infinite) and gets no gradient; elsewhere gradients pass
// straight through. There is no state.
#include "nn/quant/quant_support.hpp"

#include <bit>
#include <algorithm>
#include <cmath>

namespace shrink {
namespace {

constexpr uint32_t kHalfMax = 0x7BFF;        // 65504
constexpr uint32_t kBFloatMax = 0x7F7F;      // 3.3895e38
constexpr float kHalfLargest = 65504.0f;
constexpr float kBFloatLargest = 3.38953139e38f;

// binary32 -> binary16 bits, rounding to nearest even; |f| >= 65520 saturates.
uint32_t half_bits(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  uint32_t magnitude = bits & 0x7FFFFFFFu;
  if (magnitude >= 0x477FF000u) return sign | kHalfMax;  // would round to infinity
  if (magnitude < 0x38800000u) {
    // Below 2^-14: a subnormal half, a multiple of 2^-24 (the scaling is exact).
    const float scaled = std::bit_cast<float>(magnitude) * 16777216.0f;
    return sign | static_cast<uint32_t>(std::nearbyint(scaled));
  }
  // Rebias the exponent (127 -> 15) and round the 13 dropped bits to nearest even; a carry
  // moves into the exponent as it should.
  magnitude += 0xC8000FFFu + ((magnitude >> 13) & 1u);
  return sign | (magnitude >> 13);
}

float half_value(uint32_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu;
  const uint32_t mantissa = h & 0x3FFu;
  if (exponent == 0) {
    const float magnitude = static_cast<float>(mantissa) * (1.0f / 16777216.0f);
    return std::bit_cast<float>(sign | std::bit_cast<uint32_t>(magnitude));
  }
  return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

// binary32 -> bfloat16 bits (its top half), rounding to nearest even; saturates.
uint32_t bfloat_bits(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  const uint32_t rounded = (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
  if ((rounded & 0x7F80u) == 0x7F80u) return (bits >> 16 & 0x8000u) | kBFloatMax;
  return rounded;
}

float bfloat_value(uint32_t b) { return std::bit_cast<float>(b << 16); }

struct HalfTraits {
  static constexpr const char* kName = "fp16";
  static const QuantizerFormat& row() { return kFloat16Format; }
  static constexpr float kLargest = kHalfLargest;
  static uint32_t bits(float f) { return half_bits(f); }
  static float value(uint32_t code) { return half_value(code); }
  // Exponent all ones: infinity or NaN, which the writer never produces.
  static bool finite(uint32_t code) { return (code & 0x7C00u) != 0x7C00u; }
};

struct BFloatTraits {
  static constexpr const char* kName = "bf16";
  static const QuantizerFormat& row() { return kBFloat16Format; }
  static constexpr float kLargest = kBFloatLargest;
  static uint32_t bits(float f) { return bfloat_bits(f); }
  static float value(uint32_t code) { return bfloat_value(code); }
  static bool finite(uint32_t code) { return (code & 0x7F80u) != 0x7F80u; }
};

template <class Traits>
class HalfPrecisionQuantizer final : public Quantizer {
 public:
  const QuantizerFormat& format() const override { return Traits::row(); }
  std::unique_ptr<Quantizer> clone() const override {
    return std::make_unique<HalfPrecisionQuantizer>(*this);
  }
  nlohmann::json options() const override { return nlohmann::json::object(); }
  int bits() const override { return 16; }

  void fake_quantize(const Tensor& latent, Tensor& effective) const override {
    for (int64_t i = 0; i < latent.numel(); ++i) effective[i] = Traits::value(Traits::bits(latent[i]));
  }
  void backward(const Tensor& latent, Tensor& grad) override {
    for (int64_t i = 0; i < latent.numel(); ++i)
      if (std::abs(latent[i]) > Traits::kLargest) grad[i] = 0.0f;  // saturated
  }
  void encode(const Tensor& effective, std::span<uint32_t> codes) const override {
    for (int64_t i = 0; i < effective.numel(); ++i)
      codes[static_cast<size_t>(i)] = Traits::bits(effective[i]);
  }
  void decode(std::span<const uint32_t> codes, Tensor& values) const override {
    for (int64_t i = 0; i < values.numel(); ++i) {
      const uint32_t code = codes[static_cast<size_t>(i)];
      require(Traits::finite(code), std::string(Traits::kName) + " code " + std::to_string(code) +
                                        " is infinite or NaN, which no weight is stored as");
      values[i] = Traits::value(code);
    }
  }
  void write_state(std::string&) const override {}

  static std::unique_ptr<Quantizer> make(const nlohmann::json& json, const Tensor&) {
    quant::quantizer_options(Traits::kName, json).finish();
    return std::make_unique<HalfPrecisionQuantizer>();
  }
  static std::unique_ptr<Quantizer> read_state(std::string_view state, const Shape&) {
    quant::state_reader(state, Traits::kName).finish();
    return std::make_unique<HalfPrecisionQuantizer>();
  }
};

}  // namespace

const QuantizerFormat kFloat16Format = {
    "fp16", "IEEE half precision (binary16), round to nearest even, saturating",
    HalfPrecisionQuantizer<HalfTraits>::make, HalfPrecisionQuantizer<HalfTraits>::read_state};

const QuantizerFormat kBFloat16Format = {
    "bf16", "bfloat16 (the top half of a float32), round to nearest even, saturating",
    HalfPrecisionQuantizer<BFloatTraits>::make, HalfPrecisionQuantizer<BFloatTraits>::read_state};

}  // namespace shrink
