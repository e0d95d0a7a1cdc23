// affine: k-bit integer weights with a scale and zero code per tensor or per output channel
// (include/shrink/nn/affine_quantizer.hpp has the formulas).
#include "nn/quant/quant_support.hpp"
#include "shrink/nn/affine_quantizer.hpp"

#include <algorithm>
#include <cmath>

namespace shrink {
namespace {

constexpr int kMinAffineBits = 2;
constexpr int kMaxAffineBits = 8;
// Clip ratios the "mse" range tries: 1.00, 0.99, ..., 0.20.
constexpr int kRatioSteps = 81;
constexpr float kRatioStep = 0.01f;

constexpr uint8_t kSymmetricFlag = 1;
constexpr uint8_t kPerChannelFlag = 2;
constexpr uint8_t kMseFlag = 4;
constexpr uint8_t kLearnedFlag = 8;

// round half to even, then clamp into the codes; done in float so no overflowing conversion.
float code_of(float w, const AffineParams& p, float max_code) {
  const float code = std::nearbyint(w / p.scale) + static_cast<float>(p.zero_code);
  return std::clamp(code, 0.0f, max_code);
}

float value_of(float code, const AffineParams& p) {
  return (code - static_cast<float>(p.zero_code)) * p.scale;
}

// Squared error of quantizing w[0..n) with p.
double squared_error(const float* w, int64_t n, const AffineParams& p, float max_code) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = double{w[i]} - value_of(code_of(w[i], p, max_code), p);
    sum += d * d;
  }
  return sum;
}

std::pair<float, float> min_max(const float* w, int64_t n) {
  float lo = 0.0f, hi = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    lo = std::min(lo, w[i]);
    hi = std::max(hi, w[i]);
  }
  return {lo, hi};
}

std::unique_ptr<Quantizer> make_affine(const nlohmann::json& json, const Tensor& weight) {
  JsonOptions options = quant::quantizer_options("affine", json);
  const int bits = quant::read_bits(options, "affine", 8, kMinAffineBits, kMaxAffineBits);
  const bool symmetric = options.get<bool>("symmetric", false);
  const bool per_channel = options.get<bool>("per_channel", false);
  const std::string range = options.get<std::string>("range", "minmax");
  const bool lsq = options.get<bool>("lsq", false);
  options.finish();
  require(range == "minmax" || range == "mse",
          "quantizer affine: range must be 'minmax' or 'mse', got '" + range + "'");
  auto quantizer = std::make_unique<AffineQuantizer>(
      weight.shape(), bits, symmetric, per_channel,
      range == "mse" ? AffineQuantizer::Range::Mse : AffineQuantizer::Range::MinMax, lsq);
  if (quantizer->range() == AffineQuantizer::Range::Mse) quantizer->calibrate_clip_ratios(weight);
  if (lsq) quantizer->initialise_steps(weight);
  return quantizer;
}

}  // namespace

const QuantizerFormat kAffineFormat = {
    "affine", "k-bit integers (k = 2..8) with a scale and zero point per tensor or channel",
    make_affine, AffineQuantizer::read_state};

int32_t affine_max_code(int bits, bool symmetric) {
  return (int32_t{1} << bits) - (symmetric ? 2 : 1);
}

AffineParams choose_affine_params(float lo, float hi, int bits, bool symmetric) {
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  const int32_t max_code = affine_max_code(bits, symmetric);
  AffineParams p;
  if (symmetric) {
    const int32_t half = max_code / 2;
    p.zero_code = half;
    p.scale = std::max(-lo, hi) / static_cast<float>(half);
  } else {
    // Divided before subtracting, so a range near the float limits does not overflow.
    p.scale = hi / static_cast<float>(max_code) - lo / static_cast<float>(max_code);
    if (p.scale > 0.0f && std::isfinite(p.scale))
      p.zero_code = static_cast<int32_t>(
          std::clamp(std::nearbyint(-lo / p.scale), 0.0f, static_cast<float>(max_code)));
  }
  // An all-zero range (or one so small its scale underflows): every weight is code zero_code.
  if (!(p.scale > 0.0f && std::isfinite(p.scale))) p.scale = 1.0f;
  return p;
}

AffineQuantizer::AffineQuantizer(const Shape& shape, int bits, bool symmetric, bool per_channel,
                                 Range range, bool learned_steps)
    : shape_(shape), bits_(bits), symmetric_(symmetric), per_channel_(per_channel),
      range_(range), learned_steps_(learned_steps) {
  const quant::Channels channels(shape, per_channel);
  params_.assign(static_cast<size_t>(channels.channels), AffineParams{});
  clip_ratio_.assign(static_cast<size_t>(channels.channels), 1.0f);
  if (learned_steps_) {
    step_.name = "step";
    step_.value = Tensor(Shape{channels.channels});
    step_.value.fill(1.0f);
  }
}

const QuantizerFormat& AffineQuantizer::format() const { return kAffineFormat; }

std::unique_ptr<Quantizer> AffineQuantizer::clone() const {
  return std::make_unique<AffineQuantizer>(*this);
}

nlohmann::json AffineQuantizer::options() const {
  nlohmann::json options = {{"bits", bits_},
                            {"symmetric", symmetric_},
                            {"per_channel", per_channel_},
                            {"range", range_ == Range::Mse ? "mse" : "minmax"}};
  if (learned_steps_) options["lsq"] = true;
  return options;
}

std::vector<Parameter*> AffineQuantizer::state_parameters() {
  if (!learned_steps_) return {};
  return {&step_};
}

void AffineQuantizer::initialise_steps(const Tensor& weight) {
  follow_range(weight);
  for (size_t c = 0; c < params_.size(); ++c)
    step_.value[static_cast<int64_t>(c)] = params_[c].scale;
}

void AffineQuantizer::set_params(const std::vector<AffineParams>& params) {
  require(params.size() == params_.size(),
          "quantizer affine: " + std::to_string(params.size()) + " scales for " +
              std::to_string(params_.size()) + " channels");
  const int32_t max_code = affine_max_code(bits_, symmetric_);
  for (const AffineParams& p : params) {
    require(p.scale > 0.0f && std::isfinite(p.scale),
            "quantizer affine: scale " + std::to_string(p.scale) + " is not positive and finite");
    require(p.zero_code >= 0 && p.zero_code <= max_code && (!symmetric_ || p.zero_code == max_code / 2),
            "quantizer affine: zero code " + std::to_string(p.zero_code) + " does not fit " +
                std::to_string(bits_) + (symmetric_ ? "-bit symmetric" : "-bit") + " codes");
  }
  params_ = params;
  if (learned_steps_)
    for (size_t c = 0; c < params_.size(); ++c) step_.value[static_cast<int64_t>(c)] = params_[c].scale;
}

void AffineQuantizer::calibrate_clip_ratios(const Tensor& weight) {
  const quant::Channels ch(weight.shape(), per_channel_);
  const float max_code = static_cast<float>(affine_max_code(bits_, symmetric_));
  for (int64_t c = 0; c < ch.channels; ++c) {
    const float* w = weight.data() + ch.begin(c);
    const auto [lo, hi] = min_max(w, ch.size);
    double best = 0.0;
    for (int step = 0; step < kRatioSteps; ++step) {
      const float ratio = 1.0f - kRatioStep * static_cast<float>(step);
      const AffineParams p = choose_affine_params(ratio * lo, ratio * hi, bits_, symmetric_);
      const double error = squared_error(w, ch.size, p, max_code);
      if (step == 0 || error < best) {
        best = error;
        clip_ratio_[static_cast<size_t>(c)] = ratio;
      }
    }
  }
}

void AffineQuantizer::follow(const Tensor& latent, const Tensor&) {
  if (!learned_steps_) {
    follow_range(latent);
    return;
  }
  // Learned steps: the scales are the trained state, kept positive.
  for (size_t c = 0; c < params_.size(); ++c) {
    float& step = step_.value[static_cast<int64_t>(c)];
    require(std::isfinite(step), "quantizer affine: learned step " + std::to_string(c) + " is " +
                                     std::to_string(step));
    step = std::max(step, kMinAffineStep);
    params_[c].scale = step;  // the zero code stays the one the steps started with
  }
}

void AffineQuantizer::follow_range(const Tensor& latent) {
  // Pruned zeros change nothing: the range always contains zero.
  const quant::Channels ch(latent.shape(), per_channel_);
  for (int64_t c = 0; c < ch.channels; ++c) {
    const auto [lo, hi] = min_max(latent.data() + ch.begin(c), ch.size);
    const float ratio = clip_ratio_[static_cast<size_t>(c)];
    params_[static_cast<size_t>(c)] = choose_affine_params(ratio * lo, ratio * hi, bits_, symmetric_);
  }
}

void AffineQuantizer::fake_quantize(const Tensor& latent, Tensor& effective) const {
  const quant::Channels ch(latent.shape(), per_channel_);
  const float max_code = static_cast<float>(affine_max_code(bits_, symmetric_));
  for (int64_t c = 0; c < ch.channels; ++c) {
    const AffineParams& p = params_[static_cast<size_t>(c)];
    for (int64_t i = ch.begin(c); i < ch.end(c); ++i)
      effective[i] = value_of(code_of(latent[i], p, max_code), p);
  }
}

void AffineQuantizer::backward(const Tensor& latent, Tensor& grad) {
  const quant::Channels ch(latent.shape(), per_channel_);
  const float max_code = static_cast<float>(affine_max_code(bits_, symmetric_));
  if (learned_steps_) {
    if (step_.grad.shape() != step_.value.shape()) step_.grad = Tensor(step_.value.shape());
    for (int64_t c = 0; c < ch.channels; ++c) {
      const AffineParams& p = params_[static_cast<size_t>(c)];
      const float z = static_cast<float>(p.zero_code);
      const float positive = max_code - z > 0.0f ? max_code - z : z;  // Q_P (> 0)
      const double g = 1.0 / std::sqrt(static_cast<double>(ch.size) * positive);
      double sum = 0.0;
      for (int64_t i = ch.begin(c); i < ch.end(c); ++i) {
        const float ratio = latent[i] / p.scale;
        const bool inside = ratio + z >= 0.0f && ratio + z <= max_code;
        sum += double{grad[i]} * ((code_of(latent[i], p, max_code) - z) - (inside ? ratio : 0.0f));
        if (!inside) grad[i] = 0.0f;
      }
      step_.grad[c] += static_cast<float>(g * sum);
    }
    return;
  }
  for (int64_t c = 0; c < ch.channels; ++c) {
    const AffineParams& p = params_[static_cast<size_t>(c)];
    for (int64_t i = ch.begin(c); i < ch.end(c); ++i) {
      // Outside [-0.5, max_code + 0.5] the code is clamped: the weight is clipped there.
      const float code = latent[i] / p.scale + static_cast<float>(p.zero_code);
      if (!(code >= -0.5f && code <= max_code + 0.5f)) grad[i] = 0.0f;
    }
  }
}

void AffineQuantizer::encode(const Tensor& effective, std::span<uint32_t> codes) const {
  const quant::Channels ch(effective.shape(), per_channel_);
  const float max_code = static_cast<float>(affine_max_code(bits_, symmetric_));
  for (int64_t c = 0; c < ch.channels; ++c)
    for (int64_t i = ch.begin(c); i < ch.end(c); ++i)
      codes[static_cast<size_t>(i)] =
          static_cast<uint32_t>(code_of(effective[i], params_[static_cast<size_t>(c)], max_code));
}

void AffineQuantizer::decode(std::span<const uint32_t> codes, Tensor& values) const {
  const quant::Channels ch(values.shape(), per_channel_);
  for (int64_t c = 0; c < ch.channels; ++c)
    for (int64_t i = ch.begin(c); i < ch.end(c); ++i)
      values[i] = value_of(static_cast<float>(codes[static_cast<size_t>(i)]),
                           params_[static_cast<size_t>(c)]);
}

void AffineQuantizer::write_state(std::string& out) const {
  bytes::put_u8(out, static_cast<uint8_t>(bits_));
  bytes::put_u8(out, static_cast<uint8_t>((symmetric_ ? kSymmetricFlag : 0) |
                                          (per_channel_ ? kPerChannelFlag : 0) |
                                          (range_ == Range::Mse ? kMseFlag : 0) |
                                          (learned_steps_ ? kLearnedFlag : 0)));
  bytes::put_u32(out, static_cast<uint32_t>(params_.size()));
  for (const AffineParams& p : params_) bytes::put_f32(out, p.scale);
  for (const AffineParams& p : params_) bytes::put_u8(out, static_cast<uint8_t>(p.zero_code));
  if (range_ == Range::Mse)
    for (float ratio : clip_ratio_) bytes::put_f32(out, ratio);
}

std::unique_ptr<Quantizer> AffineQuantizer::read_state(std::string_view state, const Shape& shape) {
  bytes::Reader in = quant::state_reader(state, "affine");
  const int bits = in.u8("bit width");
  require(bits >= kMinAffineBits && bits <= kMaxAffineBits,
          "affine state has a bit width of " + std::to_string(bits) + "; it must be 2..8");
  const uint8_t flags = in.u8("flags");
  require((flags & ~(kSymmetricFlag | kPerChannelFlag | kMseFlag | kLearnedFlag)) == 0,
          "affine state has unknown flags " + std::to_string(flags));
  const bool symmetric = flags & kSymmetricFlag;
  const bool per_channel = flags & kPerChannelFlag;
  const Range range = flags & kMseFlag ? Range::Mse : Range::MinMax;
  const bool learned = flags & kLearnedFlag;
  auto quantizer =
      std::make_unique<AffineQuantizer>(shape, bits, symmetric, per_channel, range, learned);
  const int64_t channels = quant::read_channels(in, shape, per_channel).channels;
  for (int64_t c = 0; c < channels; ++c) {
    const float scale = quant::read_positive(in, "scale");
    quantizer->params_[static_cast<size_t>(c)].scale = scale;
    if (learned) quantizer->step_.value[c] = scale;
  }
  const int32_t max_code = affine_max_code(bits, symmetric);
  for (int64_t c = 0; c < channels; ++c) {
    const int32_t zero_code = in.u8("zero code");
    require(zero_code <= max_code, "affine state has zero code " + std::to_string(zero_code) +
                                       " above the largest " + std::to_string(bits) +
                                       "-bit code " + std::to_string(max_code));
    require(!symmetric || zero_code == max_code / 2,
            "affine state is symmetric but has zero code " + std::to_string(zero_code) +
                " instead of " + std::to_string(max_code / 2));
    quantizer->params_[static_cast<size_t>(c)].zero_code = zero_code;
  }
  if (range == Range::Mse)
    for (int64_t c = 0; c < channels; ++c) {
      const float ratio = in.f32("clip ratio");
      require(ratio > 0.0f && ratio <= 1.0f,
              "affine state has clip ratio " + std::to_string(ratio) + "; it must lie in (0, 1]");
      quantizer->clip_ratio_[static_cast<size_t>(c)] = ratio;
    }
  in.finish();
  return quantizer;
}

}  // namespace shrink
