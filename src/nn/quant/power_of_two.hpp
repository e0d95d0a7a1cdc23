#pragma once
// pow2: weights that are 0 or +-2^n (INQ, Zhou et al. 2017), so a multiplication is a shift.
// With b bits, one code is zero and the other 2^(b-1) are +-2^n for the 2^(b-2) exponents
// n1, n1 - 1, ..., n2 = n1 + 1 - 2^(b-2), where n1 = floor(log2(4s/3)) for the layer's largest
// magnitude s, so s itself rounds to 2^n1 or below. A weight w becomes
//   0            if |w| < 2^(n2-1),
//   sign(w) 2^n  for the n in [n2, n1] with 0.75 * 2^n <= |w| < 1.5 * 2^n (clamped to n1),
// the nearest level (INQ's equation 4). Code 0 is zero, codes 1..L are +2^(n1 - (code - 1)),
// codes L+1..2L are -2^(n1 - (code - L - 1)), with L = 2^(b-2).
//
// Two modes:
//   incremental (INQ): n1 is fixed from the weights the quantizer is made for; freeze() quantizes
//     the largest still-free weights of each portion and fixes their values; the forward pass uses
//     the frozen values and the free latent weights as they are, which retrain (frozen ones get no
//     gradient). Once everything is frozen the INQ pass makes the weight untrainable.
//   straight-through: every weight is quantized in the forward pass, n1 follows the latent
//     weight's largest magnitude, and gradients pass straight through except beyond 1.5 * 2^n1,
//     where the weight saturates.
#include "shrink/nn/quantizer.hpp"

#include <vector>

namespace shrink {

class PowerOfTwoQuantizer final : public Quantizer {
 public:
  // `follow_range`: n1 follows the latent weight's largest magnitude (straight-through mode);
  // otherwise it stays as made or read.
  PowerOfTwoQuantizer(int bits, int max_exponent, bool incremental, bool follow_range);

  const QuantizerFormat& format() const override;
  std::unique_ptr<Quantizer> clone() const override;
  nlohmann::json options() const override;
  int bits() const override { return bits_; }

  void follow(const Tensor& latent, const Tensor& mask) override;
  void fake_quantize(const Tensor& latent, Tensor& effective) const override;
  void backward(const Tensor& latent, Tensor& grad) override;
  void encode(const Tensor& effective, std::span<uint32_t> codes) const override;
  void decode(std::span<const uint32_t> codes, Tensor& values) const override;
  void write_state(std::string& out) const override;

  // The exponent of the largest level for weights whose largest magnitude is `largest`.
  static int max_exponent_for(float largest);
  // The level of w (the rule above).
  float quantize(float w) const;

  // Incremental mode: freezes the largest-magnitude free weights among those the mask keeps
  // (ties by position) until `fraction` of the kept weights are frozen, each at the level of its
  // current latent value. Returns the number frozen by this call.
  int64_t freeze(const Tensor& latent, const Tensor& mask, double fraction);
  // Fraction of the weights frozen (1 once every weight is), over all elements.
  double frozen_fraction() const;
  bool incremental() const { return incremental_; }
  int max_exponent() const { return max_exponent_; }
  // Ends incremental mode once everything is frozen: from now on every weight is the level of
  // its latent value, in the same fixed range (the caller sets the latent weight to the frozen
  // values first).
  void finish_incremental();

  static std::unique_ptr<Quantizer> make(const nlohmann::json& options, const Tensor& weight);
  static std::unique_ptr<Quantizer> read_state(std::string_view state, const Shape& shape);

 private:
  int levels() const { return 1 << (bits_ - 2); }  // exponents, L
  int min_exponent() const { return max_exponent_ + 1 - levels(); }

  int bits_;
  int max_exponent_;
  bool incremental_;
  bool follow_range_;
  std::vector<char> frozen_;  // incremental mode: 1 for a frozen element (empty = none yet)
  std::vector<float> frozen_value_;
};

}  // namespace shrink
