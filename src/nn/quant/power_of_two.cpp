// pow2: 0 or +-2^n weights, quantized at once (straight-through) or incrementally (INQ); the
// rule and the codes are in power_of_two.hpp.
#include "nn/quant/power_of_two.hpp"

#include "nn/quant/quant_support.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace shrink {
namespace {

constexpr int kMinPowerOfTwoBits = 2;
constexpr int kMaxPowerOfTwoBits = 8;
constexpr uint8_t kFollowRangeFlag = 1;
// Exponents whose levels are floats: 2^-149 (the smallest subnormal) .. 2^127.
constexpr int kLowestExponent = -149;
constexpr int kHighestExponent = 127;

std::string percent(double fraction) {
  return std::to_string(static_cast<int>(std::floor(100.0 * fraction))) + "%";
}

}  // namespace

const QuantizerFormat kPowerOfTwoFormat = {
    "pow2", "0 or +-2^n within a range set by the largest weight (INQ, Zhou et al. 2017)",
    PowerOfTwoQuantizer::make, PowerOfTwoQuantizer::read_state};

PowerOfTwoQuantizer::PowerOfTwoQuantizer(int bits, int max_exponent, bool incremental,
                                         bool follow_range)
    : bits_(bits), max_exponent_(max_exponent), incremental_(incremental),
      follow_range_(follow_range) {}

const QuantizerFormat& PowerOfTwoQuantizer::format() const { return kPowerOfTwoFormat; }

std::unique_ptr<Quantizer> PowerOfTwoQuantizer::clone() const {
  return std::make_unique<PowerOfTwoQuantizer>(*this);
}

nlohmann::json PowerOfTwoQuantizer::options() const {
  return {{"bits", bits_}, {"incremental", incremental_}};
}

int PowerOfTwoQuantizer::max_exponent_for(float largest) {
  largest = std::abs(largest);
  if (!(largest >= std::numeric_limits<float>::denorm_min()) || !std::isfinite(largest)) return 0;
  // largest = m * 2^e with m in [1, 2): the level 2^n with 0.75 * 2^n <= largest < 1.5 * 2^n.
  const int e = std::ilogb(largest);
  return std::min(std::scalbn(largest, -e) >= 1.5f ? e + 1 : e, kHighestExponent);
}

float PowerOfTwoQuantizer::quantize(float w) const {
  const float magnitude = std::abs(w);
  if (magnitude < std::ldexp(1.0f, min_exponent() - 1)) return 0.0f;
  const int n = std::clamp(max_exponent_for(magnitude), min_exponent(), max_exponent_);
  return std::copysign(std::ldexp(1.0f, n), w);
}

void PowerOfTwoQuantizer::follow(const Tensor& latent, const Tensor& mask) {
  if (!follow_range_) return;
  float largest = 0.0f;
  for (int64_t i = 0; i < latent.numel(); ++i)
    if (quant::counts(mask, i)) largest = std::max(largest, std::abs(latent[i]));
  max_exponent_ = std::max(max_exponent_for(largest), kLowestExponent + levels() - 1);
}

void PowerOfTwoQuantizer::fake_quantize(const Tensor& latent, Tensor& effective) const {
  for (int64_t i = 0; i < latent.numel(); ++i) {
    const size_t at = static_cast<size_t>(i);
    if (incremental_) effective[i] = !frozen_.empty() && frozen_[at] ? frozen_value_[at] : latent[i];
    else effective[i] = quantize(latent[i]);
  }
}

void PowerOfTwoQuantizer::backward(const Tensor& latent, Tensor& grad) {
  if (incremental_) {
    // Frozen weights do not move; the free ones retrain as plain floats.
    if (!frozen_.empty())
      for (int64_t i = 0; i < latent.numel(); ++i)
        if (frozen_[static_cast<size_t>(i)]) grad[i] = 0.0f;
    return;
  }
  const float saturation = 1.5f * std::ldexp(1.0f, max_exponent_);
  for (int64_t i = 0; i < latent.numel(); ++i)
    if (std::abs(latent[i]) >= saturation) grad[i] = 0.0f;
}

int64_t PowerOfTwoQuantizer::freeze(const Tensor& latent, const Tensor& mask, double fraction) {
  require(incremental_, "pow2: only an incremental quantizer freezes weights");
  require(fraction >= 0.0 && fraction <= 1.0,
          "pow2: the fraction to freeze must lie in [0, 1], got " + std::to_string(fraction));
  const int64_t n = latent.numel();
  if (frozen_.empty()) {
    frozen_.assign(static_cast<size_t>(n), 0);
    frozen_value_.assign(static_cast<size_t>(n), 0.0f);
    // Pruned weights are zero for good: frozen from the start.
    for (int64_t i = 0; i < n; ++i)
      if (!quant::counts(mask, i)) frozen_[static_cast<size_t>(i)] = 1;
  }
  std::vector<int64_t> free;
  int64_t kept = 0, already = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (!quant::counts(mask, i)) continue;
    ++kept;
    if (frozen_[static_cast<size_t>(i)]) ++already;
    else free.push_back(i);
  }
  const int64_t target = std::llround(fraction * static_cast<double>(kept));
  const int64_t count = std::clamp<int64_t>(target - already, 0, static_cast<int64_t>(free.size()));
  // The largest magnitudes first (INQ's pruning-inspired partition); ties by position.
  std::stable_sort(free.begin(), free.end(), [&](int64_t a, int64_t b) {
    return std::abs(latent[a]) > std::abs(latent[b]);
  });
  for (int64_t k = 0; k < count; ++k) {
    const size_t at = static_cast<size_t>(free[static_cast<size_t>(k)]);
    frozen_[at] = 1;
    frozen_value_[at] = quantize(latent[static_cast<int64_t>(at)]);
  }
  return count;
}

double PowerOfTwoQuantizer::frozen_fraction() const {
  if (frozen_.empty()) return 0.0;
  const auto frozen = std::count(frozen_.begin(), frozen_.end(), char{1});
  return static_cast<double>(frozen) / static_cast<double>(frozen_.size());
}

void PowerOfTwoQuantizer::finish_incremental() {
  require(incremental_ && frozen_fraction() == 1.0,
          "pow2: incremental quantization can only finish once every weight is frozen");
  incremental_ = false;
  follow_range_ = false;
  frozen_.clear();
  frozen_value_.clear();
}

void PowerOfTwoQuantizer::encode(const Tensor& effective, std::span<uint32_t> codes) const {
  const uint32_t negative = static_cast<uint32_t>(levels());
  for (int64_t i = 0; i < effective.numel(); ++i) {
    const float v = effective[i];
    uint32_t code = 0;
    if (v != 0.0f) {
      const int n = std::ilogb(v);
      const bool level = std::abs(v) == std::ldexp(1.0f, n) && n >= min_exponent() && n <= max_exponent_;
      if (!level && incremental_)
        throw Error::bad_input("only " + percent(frozen_fraction()) + " of the weight is "
                               "quantized to powers of two (INQ runs until 100% before the "
                               "weight can be stored)");
      if (level) code = static_cast<uint32_t>(max_exponent_ - n + 1) + (v < 0.0f ? negative : 0u);
    }
    codes[static_cast<size_t>(i)] = code;
  }
}

void PowerOfTwoQuantizer::decode(std::span<const uint32_t> codes, Tensor& values) const {
  const uint32_t exponents = static_cast<uint32_t>(levels());
  for (int64_t i = 0; i < values.numel(); ++i) {
    const uint32_t code = codes[static_cast<size_t>(i)];
    quant::require_code(code, 2 * exponents, "pow2");
    if (code == 0) {
      values[i] = 0.0f;
      continue;
    }
    const uint32_t offset = (code - 1) % exponents;
    const float magnitude = std::ldexp(1.0f, max_exponent_ - static_cast<int>(offset));
    values[i] = code > exponents ? -magnitude : magnitude;
  }
}

void PowerOfTwoQuantizer::write_state(std::string& out) const {
  bytes::put_u8(out, static_cast<uint8_t>(bits_));
  bytes::put_u32(out, static_cast<uint32_t>(static_cast<int32_t>(max_exponent_)));
  bytes::put_u8(out, follow_range_ ? kFollowRangeFlag : 0);
}

std::unique_ptr<Quantizer> PowerOfTwoQuantizer::make(const nlohmann::json& json, const Tensor& weight) {
  JsonOptions options = quant::quantizer_options("pow2", json);
  const int bits = quant::read_bits(options, "pow2", 5, kMinPowerOfTwoBits, kMaxPowerOfTwoBits);
  const bool incremental = options.get<bool>("incremental", true);
  options.finish();
  float largest = 0.0f;
  for (float w : weight) largest = std::max(largest, std::abs(w));
  const int levels = 1 << (bits - 2);
  const int n1 = std::max(max_exponent_for(largest), kLowestExponent + levels - 1);
  // INQ fixes the range from the trained weights; straight-through training lets it follow.
  return std::make_unique<PowerOfTwoQuantizer>(bits, n1, incremental, !incremental);
}

std::unique_ptr<Quantizer> PowerOfTwoQuantizer::read_state(std::string_view state, const Shape&) {
  bytes::Reader in = quant::state_reader(state, "pow2");
  const int bits = in.u8("bit width");
  require(bits >= kMinPowerOfTwoBits && bits <= kMaxPowerOfTwoBits,
          "pow2 state has a bit width of " + std::to_string(bits) + "; it must be 2..8");
  const int n1 = static_cast<int32_t>(in.u32("largest exponent"));
  const int levels = 1 << (bits - 2);
  require(n1 <= kHighestExponent && n1 + 1 - levels >= kLowestExponent,
          "pow2 state has exponents " + std::to_string(n1 + 1 - levels) + ".." +
              std::to_string(n1) + ", outside a float's " + std::to_string(kLowestExponent) +
              ".." + std::to_string(kHighestExponent));
  const uint8_t flags = in.u8("flags");
  require((flags & ~kFollowRangeFlag) == 0, "pow2 state has unknown flags " + std::to_string(flags));
  in.finish();
  return std::make_unique<PowerOfTwoQuantizer>(bits, n1, false, flags & kFollowRangeFlag);
}

}  // namespace shrink
