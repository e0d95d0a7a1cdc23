#pragma once
// Calibration of activation ranges for int8 quantization, per tensor, from the values a tensor
// takes on calibration data. Two passes over the same batches: the first finds each tensor's
// min and max, the second (for every method but minmax) fills a histogram over that range, from
// which the method picks the range [lo, hi] that QuantizeLinear's scale and zero point cover:
//   minmax        the observed min and max;
//   percentile:P  the P-th and (100 - P)-th percentiles (values beyond are clipped);
//   entropy       TensorRT's threshold search: the clipping threshold T of |x| whose quantized
//                 distribution is closest to the observed one in KL divergence (exact zeros
//                 left out: every threshold keeps them exact, and a ReLU's spike of them, merged
//                 into the first code's bins, would otherwise pull T down);
//   mse           the range (r·min, r·max), r in {1.00, 0.99, ..., 0.01}, of least expected
//                 squared quantization error: the clipped values' squared distance to the range
//                 plus step²/12 for every value inside it (rounding error, uniform in a step).
// Everything here is a pure function of the histogram, so tests feed hand-made ones.
#include "shrink/core/tensor.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace shrink {

struct CalibrationMethod {
  enum class Kind { MinMax, Percentile, Entropy, Mse };
  Kind kind = Kind::MinMax;
  double percentile = 99.99;  // for Percentile, in (50, 100]

  // "minmax", "percentile" (99.99), "percentile:99.9", "entropy", "mse"; a bad-input Error
  // listing these otherwise.
  static CalibrationMethod parse(const std::string& text);
  std::string to_string() const;
  bool needs_histogram() const { return kind != Kind::MinMax; }
};

struct ActivationRange {
  float lo = 0.0f;
  float hi = 0.0f;
};

// How an activation tensor is quantized: uint8 with a zero point (asymmetric) or int8 with
// zero point 0 (symmetric), as QuantizeLinear's attributes.
struct ActivationQuantization {
  float scale = 1.0f;
  int32_t zero_point = 0;
  bool is_signed = false;
  nlohmann::json attributes() const;
};
// The scale and zero point that cover [lo, hi] (widened to contain 0, so zero is exact):
// uint8 codes 0..255 (choose_affine_params at 8 bits), or int8 -127..127 around 0.
ActivationQuantization choose_activation_quantization(const ActivationRange& range, bool symmetric);

// Counts of values in equal bins: over [0, max] when no value was negative, else over
// [-m, m] (m the largest magnitude, twice the bins), so |x| folds onto bins exactly.
class ActivationHistogram {
 public:
  static constexpr int kBins = 2048;  // per sign, as TensorRT's entropy calibration
  ActivationHistogram() = default;
  // `observed` is the tensor's min and max over all calibration data.
  explicit ActivationHistogram(const ActivationRange& observed, int bins = kBins);
  void add(const float* values, int64_t n);

  const ActivationRange& observed() const { return observed_; }
  float start() const { return start_; }
  float bin_width() const { return width_; }
  const std::vector<double>& counts() const { return counts_; }
  bool signed_values() const { return observed_.lo < 0.0f; }
  // Values that were exactly 0 (counted in their bin too): a ReLU's output is mostly these.
  double zeros() const { return zeros_; }
  // Counts of |x| in bins of bin_width() from 0.
  std::vector<double> magnitude_counts() const;

 private:
  ActivationRange observed_;
  float start_ = 0.0f;
  float width_ = 0.0f;
  std::vector<double> counts_;
  double zeros_ = 0.0;
};

ActivationRange percentile_range(const ActivationHistogram& histogram, double percentile);
// The KL threshold search over magnitude counts in bins of `bin_width`: the candidate
// thresholds are the bin edges i·bin_width for i from `levels` up to all bins; `levels` is the
// number of codes that cover [0, T] (128 for int8 magnitudes, 256 for uint8 of non-negative
// values). Returns T.
float entropy_threshold(const std::vector<double>& magnitude_counts, float bin_width, int levels);
ActivationRange entropy_range(const ActivationHistogram& histogram, bool symmetric);
ActivationRange mse_range(const ActivationHistogram& histogram, bool symmetric);

// The share of the histogram's values beyond `range` (clipped by it), counting each bin by
// where its centre lies; 0 for an empty histogram.
double clipped_fraction(const ActivationHistogram& histogram, const ActivationRange& range);

// The range `method` picks: from the observed min/max alone (minmax) or from the histogram.
ActivationRange calibrated_range(const CalibrationMethod& method, const ActivationHistogram& histogram,
                                 bool symmetric);

}  // namespace shrink
