// Activation calibration on hand-made data and histograms with known answers: the four methods,
// the histogram's folding of |x|, the scale and zero point of a range, and the method parser.
#include "../../src/compress/quant/activation_calibration.hpp"
#include "support/errors.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace shrink {
namespace {

using testing::bad_input_message;

ActivationHistogram histogram_of(const std::vector<float>& values, int bins = ActivationHistogram::kBins) {
  ActivationRange observed{values[0], values[0]};
  for (float v : values) {
    observed.lo = std::min(observed.lo, v);
    observed.hi = std::max(observed.hi, v);
  }
  ActivationHistogram h(observed, bins);
  h.add(values.data(), static_cast<int64_t>(values.size()));
  return h;
}

std::vector<float> uniform_grid(int n, float lo, float hi) {
  std::vector<float> v;
  for (int i = 0; i < n; ++i) v.push_back(lo + (hi - lo) * (static_cast<float>(i) + 0.5f) / n);
  return v;
}

// Deterministic exponential samples of mean `mean`: the quantiles of a uniform grid.
std::vector<float> exponential(int n, float mean) {
  std::vector<float> v;
  for (float u : uniform_grid(n, 0.0f, 1.0f)) v.push_back(-mean * std::log(1.0f - u));
  return v;
}

TEST(ActivationCalibration, ParsesTheFourMethodsAndNamesThemOnABadOne) {
  EXPECT_EQ(CalibrationMethod::parse("minmax").kind, CalibrationMethod::Kind::MinMax);
  EXPECT_EQ(CalibrationMethod::parse("entropy").kind, CalibrationMethod::Kind::Entropy);
  EXPECT_EQ(CalibrationMethod::parse("mse").kind, CalibrationMethod::Kind::Mse);
  const CalibrationMethod p = CalibrationMethod::parse("percentile:99.9");
  EXPECT_EQ(p.kind, CalibrationMethod::Kind::Percentile);
  EXPECT_DOUBLE_EQ(p.percentile, 99.9);
  EXPECT_EQ(p.to_string(), "percentile:99.9");
  EXPECT_DOUBLE_EQ(CalibrationMethod::parse("percentile").percentile, 99.99);
  EXPECT_NE(bad_input_message([] { CalibrationMethod::parse("kl"); }).find("known methods: minmax"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] { CalibrationMethod::parse("percentile:30"); }).find("(50, 100]"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] { CalibrationMethod::parse("percentile:high"); }).find("as a number"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] { CalibrationMethod::parse("mse:3"); }).find("takes no value"),
            std::string::npos);
}

TEST(ActivationCalibration, ScaleAndZeroPointCoverTheRangeWithZeroExact) {
  // uint8: [-1, 3] over 255 steps, zero at code round(1 / (4/255)) = round(63.75) = 64.
  const ActivationQuantization u8 = choose_activation_quantization({-1.0f, 3.0f}, false);
  EXPECT_FLOAT_EQ(u8.scale, 4.0f / 255.0f);
  EXPECT_EQ(u8.zero_point, 64);
  EXPECT_FALSE(u8.is_signed);
  // A non-negative range (after a ReLU) puts zero at code 0.
  EXPECT_EQ(choose_activation_quantization({0.5f, 2.0f}, false).zero_point, 0);
  EXPECT_FLOAT_EQ(choose_activation_quantization({0.5f, 2.0f}, false).scale, 2.0f / 255.0f);
  // int8 symmetric: the larger magnitude over 127, zero point 0.
  const ActivationQuantization s8 = choose_activation_quantization({-1.0f, 3.0f}, true);
  EXPECT_FLOAT_EQ(s8.scale, 3.0f / 127.0f);
  EXPECT_EQ(s8.zero_point, 0);
  EXPECT_TRUE(s8.is_signed);
  EXPECT_EQ(s8.attributes(), (nlohmann::json{{"scale", 3.0f / 127.0f}, {"zero_point", 0}, {"type", "int8"}}));
  // All zeros: scale 1, nothing to cover.
  EXPECT_FLOAT_EQ(choose_activation_quantization({0.0f, 0.0f}, false).scale, 1.0f);
}

TEST(ActivationCalibration, HistogramFoldsMagnitudesExactly) {
  const ActivationHistogram h = histogram_of({-4.0f, -1.0f, -0.5f, 0.5f, 3.9f}, 4);
  EXPECT_FLOAT_EQ(h.start(), -4.0f);
  EXPECT_FLOAT_EQ(h.bin_width(), 1.0f);
  EXPECT_EQ(h.counts(), (std::vector<double>{1, 0, 0, 2, 1, 0, 0, 1}));  // -1 falls in [-1, 0)
  // |x| per bin of width 1 from 0; -1 sits in the bin [-1, 0), so it folds onto [0, 1).
  EXPECT_EQ(h.magnitude_counts(), (std::vector<double>{3, 0, 0, 2}));
  const ActivationHistogram positive = histogram_of({0.0f, 1.0f, 2.0f, 4.0f}, 4);
  EXPECT_FLOAT_EQ(positive.start(), 0.0f);
  EXPECT_EQ(positive.counts(), (std::vector<double>{1, 1, 1, 1}));  // the maximum joins the last bin
  const ActivationHistogram zeros = histogram_of({0.0f, 0.0f}, 4);
  EXPECT_EQ(zeros.counts()[0], 2.0);
}

TEST(ActivationCalibration, ClippedFractionCountsTheValuesBeyondTheRange) {
  const ActivationHistogram h = histogram_of(uniform_grid(1000, 0.0f, 10.0f), 100);
  EXPECT_DOUBLE_EQ(clipped_fraction(h, {0.0f, 10.0f}), 0.0);
  EXPECT_DOUBLE_EQ(clipped_fraction(h, {0.0f, 9.0f}), 0.1);
  EXPECT_DOUBLE_EQ(clipped_fraction(h, {2.0f, 7.0f}), 0.5);
}

TEST(ActivationCalibration, MinMaxIsTheObservedRange) {
  const ActivationHistogram h = histogram_of({-0.75f, 0.0f, 2.5f});
  const ActivationRange r = calibrated_range(CalibrationMethod::parse("minmax"), h, false);
  EXPECT_EQ(r.lo, -0.75f);
  EXPECT_EQ(r.hi, 2.5f);
}

TEST(ActivationCalibration, PercentileCutsTheTails) {
  // 0.5, 1.5, ..., 9999.5: the 99th percentile is 9900, the 1st is 100.
  const std::vector<float> values = uniform_grid(10000, 0.0f, 10000.0f);
  const ActivationRange r = percentile_range(histogram_of(values), 99.0);
  EXPECT_NEAR(r.hi, 9900.0f, 5.0f);  // within one bin (10000 / 2048 wide)
  EXPECT_EQ(r.lo, values.front());    // non-negative values keep their bottom
  std::vector<float> symmetric = uniform_grid(10000, -5000.0f, 5000.0f);
  const ActivationRange s = percentile_range(histogram_of(symmetric), 99.0);
  EXPECT_NEAR(s.hi, 4900.0f, 3.0f);
  EXPECT_NEAR(s.lo, -4900.0f, 3.0f);
  const ActivationRange all = percentile_range(histogram_of(symmetric), 100.0);
  EXPECT_NEAR(all.hi, symmetric.back(), 1e-3f);
}

TEST(ActivationCalibration, EntropyKeepsAFlatDistributionWholeAndClipsARareOutlier) {
  // A flat histogram loses nothing when quantized over its full range (KL 0), and is distorted
  // by any clipping: the threshold is the top edge.
  const std::vector<double> flat(1024, 100.0);
  EXPECT_FLOAT_EQ(entropy_threshold(flat, 0.01f, 128), 10.24f);
  // A decaying bulk (exp(-i/40) over the first 512 bins) and one count at the far end: keeping
  // that count merges 16 bins into each code, flattening the bulk's shape; the threshold falls
  // near the bulk.
  std::vector<double> outlier(2048, 0.0);
  for (int i = 0; i < 512; ++i) outlier[static_cast<size_t>(i)] = std::round(1e4 * std::exp(-i / 40.0));
  outlier.back() = 1.0;
  const float t = entropy_threshold(outlier, 1.0f, 128);
  EXPECT_GE(t, 128.0f);
  EXPECT_LE(t, 512.0f);
  // A bulk narrower than the levels needs no clipping search: it keeps everything up to its
  // minimum number of bins.
  EXPECT_FLOAT_EQ(entropy_threshold(std::vector<double>(100, 1.0), 0.5f, 128), 50.0f);
}

TEST(ActivationCalibration, EntropyRangeFollowsTheSignOfTheData) {
  // Exponential magnitudes of mean 0.2 (largest 2.1) on both sides, and one value at -4: the
  // threshold of |x| clips the outlier and keeps the bulk, on both sides alike.
  std::vector<float> values;
  for (float v : exponential(20000, 0.2f)) values.push_back(values.size() % 2 ? v : -v);
  values.push_back(-4.0f);
  const ActivationRange r = entropy_range(histogram_of(values), true);
  EXPECT_GT(r.hi, 0.5f);
  EXPECT_LT(r.hi, 2.2f);
  EXPECT_EQ(r.lo, -r.hi);
  // Non-negative values for uint8: 256 codes over [0, T], and the bottom stays the minimum.
  std::vector<float> relu = exponential(20000, 0.2f);
  relu.push_back(4.0f);
  const ActivationRange u = entropy_range(histogram_of(relu), false);
  EXPECT_EQ(u.lo, relu.front());
  EXPECT_GT(u.hi, 0.5f);
  EXPECT_LT(u.hi, 3.0f);
  // An outlier 20x beyond the bulk: the bulk fits in fewer of the 2048 bins than there are
  // codes, so the search can do no better than its smallest candidate, 256 bins of 40/2048.
  relu.back() = 40.0f;
  EXPECT_FLOAT_EQ(entropy_range(histogram_of(relu), false).hi, 5.0f);
}

TEST(ActivationCalibration, EntropyIgnoresTheExactZerosOfAReLU) {
  // The same bulk with and without as many exact zeros again (a ReLU's negative half): every
  // threshold keeps zeros exact, so the threshold must not move.
  std::vector<float> bulk = exponential(20000, 0.2f);
  bulk.push_back(4.0f);
  std::vector<float> with_zeros = bulk;
  with_zeros.insert(with_zeros.end(), 20000, 0.0f);
  const ActivationHistogram h = histogram_of(with_zeros);
  EXPECT_EQ(h.zeros(), 20000.0);
  EXPECT_EQ(entropy_range(h, false).hi, entropy_range(histogram_of(bulk), false).hi);
}

TEST(ActivationCalibration, MseKeepsAFlatRangeAndClipsALongTail) {
  // Uniform on [0, 1]: any clipping costs more than it saves in rounding (the optimum is
  // 1 - 1/510 of the range, so the 1% grid keeps all of it).
  const ActivationRange flat = mse_range(histogram_of(uniform_grid(10000, 0.0f, 1.0f)), false);
  EXPECT_NEAR(flat.hi, 1.0f, 1e-3f);
  // A far outlier is cheaper kept than clipped to the bulk (clipping one value at 100 to 1
  // costs 98², covering it costs 10^4 values x (100/255)²/12 ≈ 128 in rounding): at most 1%
  // of the range goes, where each 1% saves ~2.5 in rounding and costs 1² per 1 clipped.
  std::vector<float> few = uniform_grid(10000, 0.0f, 1.0f);
  few.push_back(100.0f);
  EXPECT_GE(mse_range(histogram_of(few), false).hi, 99.0f);
  // A long tail (exponential, mean 1, largest 10.6) loses its last few values.
  const std::vector<float> values = exponential(20000, 1.0f);
  const ActivationRange clipped = mse_range(histogram_of(values), false);
  EXPECT_LT(clipped.hi, values.back());
  // Brute force over the same grid with exact rounding of every value agrees on the winner
  // within one grid step.
  double best = 1e300;
  float best_hi = 0.0f;
  for (int s = 100; s >= 1; --s) {
    const float hi = values.back() * static_cast<float>(s) / 100.0f;
    const ActivationQuantization q = choose_activation_quantization({0.0f, hi}, false);
    double error = 0.0;
    for (float v : values) {
      const float code = std::min(255.0f, std::max(0.0f, std::nearbyint(v / q.scale) + q.zero_point));
      const double d = v - (code - q.zero_point) * q.scale;
      error += d * d;
    }
    if (error < best) {
      best = error;
      best_hi = hi;
    }
  }
  EXPECT_NEAR(clipped.hi, best_hi, 3.0f * values.back() / 100.0f);
}

}  // namespace
}  // namespace shrink
