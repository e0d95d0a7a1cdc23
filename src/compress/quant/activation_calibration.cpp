#include "compress/quant/activation_calibration.hpp"

#include "shrink/core/error.hpp"
#include "shrink/core/method_spec.hpp"
#include "shrink/nn/affine_quantizer.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace shrink {
namespace {

constexpr const char* kMethods = "minmax, percentile:P (e.g. percentile:99.99), entropy, mse";

// Normalises d to sum 1 and moves a small share of the mass onto its empty bins (TensorRT's
// and MXNet's smoothing), so that q dropping a bin where p has mass costs a finite amount.
void normalise_and_smooth(std::vector<double>& d) {
  constexpr double kEpsilon = 1e-4;
  double total = 0.0;
  int64_t zeros = 0;
  for (double v : d) {
    total += v;
    zeros += v == 0.0 ? 1 : 0;
  }
  const int64_t nonzeros = static_cast<int64_t>(d.size()) - zeros;
  if (total <= 0.0 || nonzeros == 0) return;
  const double taken = kEpsilon * static_cast<double>(zeros) / static_cast<double>(nonzeros);
  for (double& v : d) v = v == 0.0 ? kEpsilon : v / total - taken;
}

double kl_divergence(std::vector<double> p, std::vector<double> q) {
  normalise_and_smooth(p);
  normalise_and_smooth(q);
  double kl = 0.0;
  for (size_t i = 0; i < p.size(); ++i)
    if (p[i] > 0.0 && q[i] > 0.0) kl += p[i] * std::log(p[i] / q[i]);
  return kl;
}

// The value below which `target` of the histogram's counts lie, interpolating linearly inside
// the bin where the running count crosses it.
float value_at_count(const ActivationHistogram& h, double target) {
  const std::vector<double>& counts = h.counts();
  double running = 0.0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] > 0.0 && running + counts[i] >= target) {
      const double fraction = std::clamp((target - running) / counts[i], 0.0, 1.0);
      return h.start() + h.bin_width() * static_cast<float>(static_cast<double>(i) + fraction);
    }
    running += counts[i];
  }
  return h.start() + h.bin_width() * static_cast<float>(counts.size());
}

}  // namespace

CalibrationMethod CalibrationMethod::parse(const std::string& text) {
  const MethodSpec spec = parse_method_spec("--calibration", text);
  CalibrationMethod method;
  const auto plain = [&](Kind kind) {
    require(spec.value.is_null() && spec.options.empty(),
            "--calibration " + text + ": " + spec.method + " takes no value; known methods: " + kMethods);
    method.kind = kind;
  };
  if (spec.method == "minmax") {
    plain(Kind::MinMax);
  } else if (spec.method == "entropy") {
    plain(Kind::Entropy);
  } else if (spec.method == "mse") {
    plain(Kind::Mse);
  } else if (spec.method == "percentile") {
    require(spec.options.empty() && (spec.value.is_null() || spec.value.is_number()),
            "--calibration " + text + ": write the percentile as a number, e.g. percentile:99.99");
    method.kind = Kind::Percentile;
    if (spec.value.is_number()) method.percentile = spec.value.get<double>();
    require(method.percentile > 50.0 && method.percentile <= 100.0,
            "--calibration " + text + ": the percentile must lie in (50, 100], e.g. 99.99");
  } else {
    throw Error::bad_input("--calibration " + text + ": unknown method '" + spec.method +
                           "'; known methods: " + kMethods);
  }
  return method;
}

std::string CalibrationMethod::to_string() const {
  switch (kind) {
    case Kind::MinMax: return "minmax";
    case Kind::Entropy: return "entropy";
    case Kind::Mse: return "mse";
    case Kind::Percentile: break;
  }
  nlohmann::json p = percentile;  // shortest form that reads back the same: 99.99, not 99.9899...
  return "percentile:" + p.dump();
}

nlohmann::json ActivationQuantization::attributes() const {
  return {{"scale", scale}, {"zero_point", zero_point}, {"type", is_signed ? "int8" : "uint8"}};
}

ActivationQuantization choose_activation_quantization(const ActivationRange& range, bool symmetric) {
  const AffineParams p = choose_affine_params(range.lo, range.hi, 8, symmetric);
  ActivationQuantization q;
  q.scale = p.scale;
  q.is_signed = symmetric;
  // Symmetric affine codes run 0..254 around 127: int8 -127..127 around 0.
  q.zero_point = symmetric ? 0 : p.zero_code;
  return q;
}

ActivationHistogram::ActivationHistogram(const ActivationRange& observed, int bins)
    : observed_(observed) {
  require(bins > 0, "activation histogram: bins must be positive");
  const float m = std::max(std::fabs(observed.lo), std::fabs(observed.hi));
  const bool both_signs = observed.lo < 0.0f;
  start_ = both_signs ? -m : 0.0f;
  width_ = m / static_cast<float>(bins);
  counts_.assign(static_cast<size_t>(both_signs ? 2 * bins : bins), 0.0);
}

void ActivationHistogram::add(const float* values, int64_t n) {
  const int64_t last = static_cast<int64_t>(counts_.size()) - 1;
  if (!(width_ > 0.0f)) {  // every value was zero
    counts_[0] += static_cast<double>(n);
    zeros_ += static_cast<double>(n);
    return;
  }
  const float inverse = 1.0f / width_;
  for (int64_t i = 0; i < n; ++i) {
    const float position = (values[i] - start_) * inverse;
    // NaN and values beyond the first pass's range (none, on the same data) go to the ends.
    const int64_t bin = position >= 0.0f ? std::min(static_cast<int64_t>(position), last) : 0;
    counts_[static_cast<size_t>(bin)] += 1.0;
    zeros_ += values[i] == 0.0f ? 1.0 : 0.0;
  }
}

std::vector<double> ActivationHistogram::magnitude_counts() const {
  if (!signed_values()) return counts_;
  const size_t half = counts_.size() / 2;
  std::vector<double> folded(half);
  for (size_t k = 0; k < half; ++k) folded[k] = counts_[half + k] + counts_[half - 1 - k];
  return folded;
}

ActivationRange percentile_range(const ActivationHistogram& h, double percentile) {
  double total = 0.0;
  for (double c : h.counts()) total += c;
  if (total == 0.0 || !(h.bin_width() > 0.0f)) return h.observed();
  const double tail = total * (100.0 - percentile) / 100.0;
  ActivationRange r;
  r.lo = std::max(h.observed().lo, value_at_count(h, tail));
  r.hi = std::min(h.observed().hi, value_at_count(h, total - tail));
  if (!h.signed_values()) r.lo = h.observed().lo;  // non-negative values: zero stays the bottom
  return r;
}

float entropy_threshold(const std::vector<double>& counts, float bin_width, int levels) {
  require(levels >= 2, "entropy calibration: levels must be at least 2");
  const int bins = static_cast<int>(counts.size());
  if (bins <= levels) return bin_width * static_cast<float>(bins);
  double best = std::numeric_limits<double>::infinity();
  int best_bins = bins;
  std::vector<double> p, q;
  for (int i = levels; i <= bins; ++i) {
    // p: the first i bins, with everything beyond folded into the last (what clipping at
    // i·bin_width does to the values).
    p.assign(counts.begin(), counts.begin() + i);
    for (int k = i; k < bins; ++k) p[static_cast<size_t>(i - 1)] += counts[static_cast<size_t>(k)];
    // q: the first i bins without the clipped values, merged into `levels` groups, each group's
    // mass spread evenly over its bins that hold mass in p (what quantizing to `levels` codes
    // keeps of the shape). As in TensorRT, q leaves the clipped mass out, so clipping costs.
    q.assign(static_cast<size_t>(i), 0.0);
    const double per_group = static_cast<double>(i) / levels;
    for (int g = 0; g < levels; ++g) {
      const int begin = static_cast<int>(std::floor(g * per_group));
      const int end = g + 1 == levels ? i : static_cast<int>(std::floor((g + 1) * per_group));
      double mass = 0.0;
      int used = 0;
      for (int k = begin; k < end; ++k) {
        mass += counts[static_cast<size_t>(k)];
        used += p[static_cast<size_t>(k)] != 0.0 ? 1 : 0;
      }
      if (used == 0) continue;
      for (int k = begin; k < end; ++k)
        if (p[static_cast<size_t>(k)] != 0.0) q[static_cast<size_t>(k)] = mass / used;
    }
    const double kl = kl_divergence(p, q);
    if (kl < best) {
      best = kl;
      best_bins = i;
    }
  }
  return bin_width * static_cast<float>(best_bins);
}

ActivationRange entropy_range(const ActivationHistogram& h, bool symmetric) {
  if (!(h.bin_width() > 0.0f)) return h.observed();
  const bool unsigned_codes = !h.signed_values() && !symmetric;
  std::vector<double> counts = h.magnitude_counts();
  counts[0] -= h.zeros();  // exact zeros stay exact at any threshold
  const float t = entropy_threshold(counts, h.bin_width(), unsigned_codes ? 256 : 128);
  return {std::max(h.observed().lo, -t), std::min(h.observed().hi, t)};
}

ActivationRange mse_range(const ActivationHistogram& h, bool symmetric) {
  if (!(h.bin_width() > 0.0f)) return h.observed();
  constexpr int kSteps = 100;
  const std::vector<double>& counts = h.counts();
  ActivationRange best_range = h.observed();
  double best = std::numeric_limits<double>::infinity();
  for (int s = kSteps; s >= 1; --s) {
    const float ratio = static_cast<float>(s) / kSteps;
    const ActivationRange candidate{ratio * h.observed().lo, ratio * h.observed().hi};
    const ActivationQuantization q = choose_activation_quantization(candidate, symmetric);
    const double lowest = (static_cast<double>(q.is_signed ? -128 : 0) - q.zero_point) * q.scale;
    const double highest = (static_cast<double>(q.is_signed ? 127 : 255) - q.zero_point) * q.scale;
    const double rounding = static_cast<double>(q.scale) * q.scale / 12.0;
    double error = 0.0;
    for (size_t i = 0; i < counts.size(); ++i) {
      if (counts[i] == 0.0) continue;
      const double centre = h.start() + (static_cast<double>(i) + 0.5) * h.bin_width();
      const double clipped = centre < lowest ? lowest - centre : centre > highest ? centre - highest : 0.0;
      error += counts[i] * (clipped > 0.0 ? clipped * clipped : rounding);
    }
    if (error < best) {
      best = error;
      best_range = candidate;
    }
  }
  return best_range;
}

double clipped_fraction(const ActivationHistogram& h, const ActivationRange& range) {
  double total = 0.0, clipped = 0.0;
  const std::vector<double>& counts = h.counts();
  for (size_t i = 0; i < counts.size(); ++i) {
    const double centre = h.start() + (static_cast<double>(i) + 0.5) * h.bin_width();
    total += counts[i];
    if (centre < range.lo || centre > range.hi) clipped += counts[i];
  }
  return total > 0.0 ? clipped / total : 0.0;
}

ActivationRange calibrated_range(const CalibrationMethod& method, const ActivationHistogram& histogram,
                                 bool symmetric) {
  switch (method.kind) {
    case CalibrationMethod::Kind::MinMax: return histogram.observed();
    case CalibrationMethod::Kind::Percentile: return percentile_range(histogram, method.percentile);
    case CalibrationMethod::Kind::Entropy: return entropy_range(histogram, symmetric);
    case CalibrationMethod::Kind::Mse: return mse_range(histogram, symmetric);
  }
  throw Error::internal("unknown calibration method");
}

}  // namespace shrink
