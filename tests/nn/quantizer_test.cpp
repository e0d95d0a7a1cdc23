// The weight-format framework: the formats table, and the affine format against hand-computed
// values, its edge cases, its straight-through gradient and its state bytes.
#include "shrink/nn/affine_quantizer.hpp"
#include "shrink/nn/parameter.hpp"
#include "shrink/nn/quantizer.hpp"
#include "support/errors.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <set>

namespace shrink {
namespace {

using testing::bad_input_message;

Tensor fake_quantize(Quantizer& q, const Tensor& w) {
  q.follow(w, Tensor());
  Tensor out(w.shape());
  q.fake_quantize(w, out);
  return out;
}

std::unique_ptr<Quantizer> affine(const nlohmann::json& options, const Tensor& w) {
  return make_quantizer("affine", options, w);
}

// decode(encode(v)) == v bit for bit, and the state survives write_state/read_state.
void expect_codes_and_state_round_trip(const Quantizer& q, const Tensor& effective) {
  std::vector<uint32_t> codes(static_cast<size_t>(effective.numel()));
  q.encode(effective, codes);
  for (uint32_t c : codes) EXPECT_LT(c, uint32_t{1} << q.bits());
  std::string state;
  q.write_state(state);
  const std::unique_ptr<Quantizer> back = q.format().read_state(state, effective.shape());
  EXPECT_EQ(back->options(), q.options());
  std::string again;
  back->write_state(again);
  EXPECT_EQ(again, state);
  Tensor decoded(effective.shape());
  back->decode(codes, decoded);
  for (int64_t i = 0; i < effective.numel(); ++i)
    EXPECT_EQ(std::bit_cast<uint32_t>(decoded[i]), std::bit_cast<uint32_t>(effective[i])) << i;
}

TEST(QuantizerFormats, TableRowsAreUniqueAndFindable) {
  std::set<std::string> names;
  for (const QuantizerFormat* format : quantizer_formats()) {
    EXPECT_TRUE(names.insert(format->name).second) << format->name;
    EXPECT_EQ(find_quantizer_format(format->name), format);
    EXPECT_NE(format->make, nullptr);
    EXPECT_NE(format->read_state, nullptr);
  }
  EXPECT_TRUE(names.count("affine"));
  EXPECT_EQ(find_quantizer_format("int3"), nullptr);
  EXPECT_EQ(bad_input_message([] { make_quantizer("int3", {}, Tensor({2})); }),
            "unknown weight format 'int3'; known formats: " + quantizer_format_names());
}

TEST(AffineParams, MatchHandComputedScalesAndZeroCodes) {
  // Asymmetric 8-bit over [-1, 3]: scale 4/255, zero at round(255/4) = 64.
  AffineParams p = choose_affine_params(-1.0f, 3.0f, 8, false);
  EXPECT_FLOAT_EQ(p.scale, 4.0f / 255.0f);
  EXPECT_EQ(p.zero_code, 64);
  // The range always contains zero: [0.5, 2] becomes [0, 2].
  p = choose_affine_params(0.5f, 2.0f, 4, false);
  EXPECT_FLOAT_EQ(p.scale, 2.0f / 15.0f);
  EXPECT_EQ(p.zero_code, 0);
  // Symmetric 8-bit: scale max|w| / 127, zero code 127 (codes 0..254 = -127..127).
  p = choose_affine_params(-0.5f, 0.25f, 8, true);
  EXPECT_FLOAT_EQ(p.scale, 0.5f / 127.0f);
  EXPECT_EQ(p.zero_code, 127);
  EXPECT_EQ(affine_max_code(8, true), 254);
  EXPECT_EQ(affine_max_code(4, false), 15);
  // All zero: any scale decodes zero; it is 1.
  p = choose_affine_params(0.0f, 0.0f, 8, true);
  EXPECT_EQ(p.scale, 1.0f);
}

TEST(AffineQuantizer, FourBitPerTensorMatchesHandComputedValues) {
  // Range [-1, 2] at 4 bits: scale 0.2, zero code round(1 / 0.2) = 5.
  const Tensor w({6}, {-1.0f, -0.31f, 0.0f, 0.29f, 0.45f, 2.0f});
  auto q = affine({{"bits", 4}}, w);
  EXPECT_EQ(q->bits(), 4);
  const Tensor e = fake_quantize(*q, w);
  const std::vector<float> expected = {-1.0f, -0.4f, 0.0f, 0.2f, 0.4f, 2.0f};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(e[i], expected[static_cast<size_t>(i)], 1e-6f) << i;
  EXPECT_EQ(e[2], 0.0f) << "zero is exact";
  std::vector<uint32_t> codes(6);
  q->encode(e, codes);
  EXPECT_EQ(codes, (std::vector<uint32_t>{0, 3, 5, 6, 7, 15}));
  expect_codes_and_state_round_trip(*q, e);
}

TEST(AffineQuantizer, RoundsHalfToEven) {
  // Range [0, 3.75] at 4 bits: scale 0.25 exactly, so 0.625 and 0.875 are exact half steps.
  const Tensor w({5}, {0.0f, 0.625f, 0.875f, 1.125f, 3.75f});
  auto q = affine({{"bits", 4}}, w);
  EXPECT_EQ(fake_quantize(*q, w), Tensor({5}, {0.0f, 0.5f, 1.0f, 1.0f, 3.75f}));
}

TEST(AffineQuantizer, PerChannelSymmetricUsesEachRowsOwnScale) {
  const Tensor w({2, 3}, {0.1f, -0.2f, 0.05f, 10.0f, 5.0f, -2.5f});
  auto q = affine({{"bits", 8}, {"per_channel", true}, {"symmetric", true}}, w);
  const Tensor e = fake_quantize(*q, w);
  const auto& aq = dynamic_cast<const AffineQuantizer&>(*q);
  ASSERT_EQ(aq.channels(), 2);
  EXPECT_FLOAT_EQ(aq.params(0).scale, 0.2f / 127.0f);
  EXPECT_FLOAT_EQ(aq.params(1).scale, 10.0f / 127.0f);
  for (int64_t i = 0; i < 6; ++i) {
    const float scale = aq.params(i / 3).scale;
    EXPECT_LE(std::abs(e[i] - w[i]), scale / 2 + 1e-7f) << i;
  }
  EXPECT_FLOAT_EQ(e[1], -0.2f) << "the largest magnitude is a level";
  expect_codes_and_state_round_trip(*q, e);
}

TEST(AffineQuantizer, AnAllZeroChannelStaysZeroBesideOthers) {
  const Tensor w({2, 2}, {0.0f, 0.0f, 1.0f, -3.0f});
  for (bool symmetric : {false, true}) {
    auto q = affine({{"bits", 2}, {"per_channel", true}, {"symmetric", symmetric}}, w);
    const Tensor e = fake_quantize(*q, w);
    EXPECT_EQ(e[0], 0.0f);
    EXPECT_EQ(e[1], 0.0f);
    // Symmetric: -3 is the bottom level. Asymmetric: the range [-3, 1] has scale 4/3 and its
    // zero code rounds from 2.25 to 2, so -3 lands on the nearest level, -8/3.
    EXPECT_FLOAT_EQ(e[3], symmetric ? -3.0f : -8.0f / 3.0f);
    expect_codes_and_state_round_trip(*q, e);
  }
}

TEST(AffineQuantizer, ASingleHugeWeightTakesTheRangeAndTheOthersRoundToZero) {
  Tensor w({1000});
  for (int64_t i = 0; i < w.numel(); ++i) w[i] = 0.01f * std::sin(static_cast<float>(i));
  w[500] = 1.0e6f;
  auto q = affine({{"bits", 8}}, w);
  const Tensor e = fake_quantize(*q, w);
  EXPECT_NEAR(e[500], 1.0e6f, 1.0f);
  for (int64_t i = 0; i < w.numel(); ++i)
    if (i != 500) EXPECT_EQ(e[i], 0.0f) << i;  // a step of about 3900 swallows them
  expect_codes_and_state_round_trip(*q, e);
  // Per channel, the outlier costs only its own row.
  Tensor rows({2, 500});
  for (int64_t i = 0; i < rows.numel(); ++i) rows[i] = w[i];
  auto per_channel = affine({{"bits", 8}, {"per_channel", true}}, rows);
  const Tensor f = fake_quantize(*per_channel, rows);
  EXPECT_LT(std::abs(f[1] - rows[1]), 1e-4f);
}

TEST(AffineQuantizer, MseRangeNeverDoesWorseThanMinMax) {
  Tensor w({4, 64});
  for (int64_t i = 0; i < w.numel(); ++i)
    w[i] = std::tan(0.37f * static_cast<float>(i)) * 0.05f;  // heavy tails
  for (int bits : {2, 4, 8}) {
    auto minmax = affine({{"bits", bits}, {"per_channel", true}}, w);
    auto mse = affine({{"bits", bits}, {"per_channel", true}, {"range", "mse"}}, w);
    EXPECT_LE(relative_mse(w, fake_quantize(*mse, w)),
              relative_mse(w, fake_quantize(*minmax, w)) + 1e-12)
        << bits;
  }
}

TEST(AffineQuantizer, StraightThroughGradientIsTheIdentityInsideTheRange) {
  const Tensor w({4}, {-1.0f, 0.3f, 0.7f, 1.0f});
  auto q = affine({{"bits", 3}}, w);
  q->follow(w, Tensor());
  Tensor grad({4}, {0.5f, -2.0f, 3.0f, 4.0f});
  q->backward(w, grad);
  EXPECT_EQ(grad, Tensor({4}, {0.5f, -2.0f, 3.0f, 4.0f}));
  // Latent weights beyond the range the state was set for are clipped: no gradient.
  const Tensor moved({4}, {-5.0f, 0.3f, 0.7f, 5.0f});
  Tensor grad2({4}, 1.0f);
  q->backward(moved, grad2);
  EXPECT_EQ(grad2, Tensor({4}, {0.0f, 1.0f, 1.0f, 0.0f}));
}

TEST(AffineQuantizer, BadOptionsAndNonFiniteWeightsAreClearErrors) {
  const Tensor w({2}, {1.0f, 2.0f});
  EXPECT_EQ(bad_input_message([&] { affine({{"bits", 9}}, w); }),
            "quantizer affine: bits must be in 2..8, got 9");
  EXPECT_EQ(bad_input_message([&] { affine({{"bits", 1}}, w); }),
            "quantizer affine: bits must be in 2..8, got 1");
  EXPECT_EQ(bad_input_message([&] { affine({{"range", "percentile"}}, w); }),
            "quantizer affine: range must be 'minmax' or 'mse', got 'percentile'");
  EXPECT_NE(bad_input_message([&] { affine({{"bitz", 4}}, w); })
                .find("quantizer affine: unknown option 'bitz'"),
            std::string::npos);
  EXPECT_EQ(bad_input_message([&] { affine({{"symmetric", "yes"}}, w); }),
            "quantizer affine: option 'symmetric' has the wrong type (\"yes\")");
  const Tensor nan({3}, {1.0f, std::numeric_limits<float>::quiet_NaN(), 2.0f});
  EXPECT_EQ(bad_input_message([&] { affine({}, nan); }).rfind("the weight holds nan at element 1; "
                                                             "quantization needs finite weights",
                                                             0),
            0u);
  const Tensor inf({2}, {std::numeric_limits<float>::infinity(), 2.0f});
  EXPECT_NE(bad_input_message([&] { affine({}, inf); }).find("holds inf at element 0"),
            std::string::npos);
}

TEST(AffineQuantizer, CorruptStateIsAClearError) {
  const Tensor w({2, 2}, {1.0f, 2.0f, 3.0f, 4.0f});
  auto q = affine({{"bits", 4}, {"per_channel", true}}, w);
  q->follow(w, Tensor());
  std::string state;
  q->write_state(state);
  const QuantizerFormat& format = q->format();
  EXPECT_EQ(bad_input_message([&] { format.read_state(state.substr(0, 8), {2, 2}); }),
            "affine state ends before its scale (needs 4 bytes, 2 left)");
  EXPECT_EQ(bad_input_message([&] { format.read_state(state, {3, 2}); }),
            "affine state has 2 channels but a weight of shape [3, 2] per channel has 3");
  std::string bad_bits = state;
  bad_bits[0] = 12;
  EXPECT_EQ(bad_input_message([&] { format.read_state(bad_bits, {2, 2}); }),
            "affine state has a bit width of 12; it must be 2..8");
  EXPECT_EQ(bad_input_message([&] { format.read_state(state + "x", {2, 2}); }),
            "affine state has 1 bytes more than its fields use");
  std::string zero_scale = state;
  for (int i = 6; i < 10; ++i) zero_scale[static_cast<size_t>(i)] = 0;
  EXPECT_EQ(bad_input_message([&] { format.read_state(zero_scale, {2, 2}); }),
            "affine state has a scale of 0.000000; it must be finite and positive");
}

}  // namespace
}  // namespace shrink
