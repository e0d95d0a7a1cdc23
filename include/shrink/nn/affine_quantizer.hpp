#pragma once
// Affine (uniform) k-bit integer weights, k = 2..8: per tensor or per output channel, a weight
// w becomes the code
//   code = clamp(round_half_even(w / scale) + zero_code, 0, max_code)
// and is stored as that k-bit code; its value is (code - zero_code) * scale. These are ONNX's
// QuantizeLinear/DequantizeLinear with zero point zero_code, so a quantized weight exports and
// lowers onto integer kernels as it is.
//
//   asymmetric: codes 0 .. 2^k - 1, the range [min(lo, 0), max(hi, 0)] mapped onto them;
//   symmetric:  codes 0 .. 2^k - 2 around zero_code = 2^(k-1) - 1, i.e. signed integers
//               -(2^(k-1) - 1) .. 2^(k-1) - 1 (int8: -127..127), scale = max|w| / (2^(k-1) - 1).
//
// The range is the weight's min/max, or (range "mse") that range shrunk by the ratio in
// {1.00, 0.99, ..., 0.20} that minimises the squared reconstruction error of the channel; the
// ratio is found once, when the quantizer is made, and while training the range follows the
// latent weight's min/max times that ratio. Gradients pass straight through, except where a
// weight lies outside the range (clipped), where they are zero.
//
// With "lsq" (learned step size, Esser et al. 2020) the scales no longer follow the latent
// weight: they start at the min/max (or mse) scales and are then trainable state (the
// parameter "step", one entry per channel), with the LSQ gradient
//   d w^/d s_c = round(w/s_c) - w/s_c  inside the codes,  -Q_N or Q_P  where w is clipped,
// scaled by g = 1 / sqrt(N_c Q_P) (N_c the channel's elements, Q_P = the largest positive
// signed code, Q_N the largest negative one); the weight's gradient is straight-through inside
// and 0 outside. Zero codes stay fixed; a step never falls below kMinAffineStep.
#include "shrink/nn/parameter.hpp"
#include "shrink/nn/quantizer.hpp"

#include <vector>

namespace shrink {

struct AffineParams {
  float scale = 1.0f;    // > 0
  int32_t zero_code = 0;  // the code of 0.0
};

// The scale and zero code for values in [lo, hi] at `bits` bits (FBGEMM's
// ChooseQuantizationParams, with zero always representable exactly): the range is first
// widened to contain 0; an empty range (all zeros) gets scale 1.
AffineParams choose_affine_params(float lo, float hi, int bits, bool symmetric);
// The largest code: 2^bits - 1, or 2^bits - 2 when symmetric.
int32_t affine_max_code(int bits, bool symmetric);

// The smallest learned step ("lsq"): the optimizer may push a step lower, follow() clamps it.
constexpr float kMinAffineStep = 1e-8f;

class AffineQuantizer final : public Quantizer {
 public:
  enum class Range { MinMax, Mse };

  AffineQuantizer(const Shape& shape, int bits, bool symmetric, bool per_channel, Range range,
                  bool learned_steps = false);

  const QuantizerFormat& format() const override;
  std::unique_ptr<Quantizer> clone() const override;
  nlohmann::json options() const override;
  int bits() const override { return bits_; }

  void follow(const Tensor& latent, const Tensor& mask) override;
  void fake_quantize(const Tensor& latent, Tensor& effective) const override;
  void backward(const Tensor& latent, Tensor& grad) override;
  std::vector<Parameter*> state_parameters() override;

  void encode(const Tensor& effective, std::span<uint32_t> codes) const override;
  void decode(std::span<const uint32_t> codes, Tensor& values) const override;
  void write_state(std::string& out) const override;
  static std::unique_ptr<Quantizer> read_state(std::string_view state, const Shape& shape);

  // Searches each channel's clip ratio (range "mse") on `weight`.
  void calibrate_clip_ratios(const Tensor& weight);
  // Learned steps: starts them at the scales the range gives `weight`.
  void initialise_steps(const Tensor& weight);
  // Sets each channel's scale and zero code to given ones, such as those of an imported QDQ
  // file's weight; they hold until the latent weight next changes (follow()).
  void set_params(const std::vector<AffineParams>& params);
  bool learned_steps() const { return learned_steps_; }

  bool symmetric() const { return symmetric_; }
  bool per_channel() const { return per_channel_; }
  Range range() const { return range_; }
  // One entry per channel (one in all for a per-tensor quantizer); channel c covers elements
  // [c * n / channels, (c + 1) * n / channels).
  int64_t channels() const { return static_cast<int64_t>(params_.size()); }
  const AffineParams& params(int64_t channel) const { return params_[static_cast<size_t>(channel)]; }
  float clip_ratio(int64_t channel) const { return clip_ratio_[static_cast<size_t>(channel)]; }

 private:
  Shape shape_;
  int bits_;
  bool symmetric_;
  bool per_channel_;
  Range range_;
  bool learned_steps_;
  std::vector<AffineParams> params_;  // per channel
  std::vector<float> clip_ratio_;     // per channel; 1 for min/max
  Parameter step_;                    // learned steps: [channels], trainable; else empty
  // The scales min/max (times the clip ratios) give `latent`.
  void follow_range(const Tensor& latent);
};

}  // namespace shrink
