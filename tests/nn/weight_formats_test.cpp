// The weight formats beyond affine against hand-computed values: fp16/bf16, pow2 (INQ),
// binary (XNOR-Net, BinaryConnect), ternary (TWN, TTQ) and DoReFa; their gradients, their
// edge cases and their state bytes.
#include "../../src/nn/quant/power_of_two.hpp"
#include "shrink/core/random.hpp"
#include "shrink/nn/parameter.hpp"
#include "shrink/nn/quantizer.hpp"
#include "support/errors.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>

namespace shrink {
namespace {

using testing::bad_input_message;

Tensor effective_of(Quantizer& q, const Tensor& w, const Tensor& mask = Tensor()) {
  q.follow(w, mask);
  Tensor out(w.shape());
  q.fake_quantize(w, out);
  return out;
}

// decode(encode(v)) == v bit for bit through the state bytes, and every code fits the width.
void expect_exact_storage(const Quantizer& q, const Tensor& effective) {
  std::vector<uint32_t> codes(static_cast<size_t>(effective.numel()));
  q.encode(effective, codes);
  for (uint32_t c : codes) EXPECT_LT(uint64_t{c}, uint64_t{1} << q.bits());
  std::string state;
  q.write_state(state);
  const auto back = q.format().read_state(state, effective.shape());
  std::string again;
  back->write_state(again);
  EXPECT_EQ(again, state);
  Tensor decoded(effective.shape());
  back->decode(codes, decoded);
  for (int64_t i = 0; i < effective.numel(); ++i)
    EXPECT_EQ(std::bit_cast<uint32_t>(decoded[i]), std::bit_cast<uint32_t>(effective[i]))
        << q.format().name << " element " << i << ": " << effective[i];
}

Tensor random_tensor(const Shape& shape, float scale, uint64_t seed) {
  Rng rng(seed);
  Tensor t(shape);
  for (float& v : t) v = rng.normal(0.0f, scale);
  return t;
}

// --- fp16 / bf16 -----------------------------------------------------------------------------

TEST(Float16, RoundsToNearestEvenAndSaturates) {
  const Tensor w({8}, {1.0f, 0.1f, 1.0f / 3.0f, 65504.0f, 1.0e6f, -2.0e-8f, 5.96046448e-8f, 1.00048828125f});
  auto q = make_quantizer("fp16", {}, w);
  EXPECT_EQ(q->bits(), 16);
  const Tensor e = effective_of(*q, w);
  std::vector<uint32_t> codes(8);
  q->encode(e, codes);
  // 0.1 -> 0x2E66, 1/3 -> 0x3555, 1e6 saturates at 65504, -2e-8 rounds to -0 (below half of
  // the smallest subnormal 2^-24), 2^-24 is the smallest subnormal, 1 + 2^-11 is a tie that
  // goes to the even 1.0.
  EXPECT_EQ(codes, (std::vector<uint32_t>{0x3C00, 0x2E66, 0x3555, 0x7BFF, 0x7BFF, 0x8000, 0x0001, 0x3C00}));
  EXPECT_EQ(e[4], 65504.0f);
  expect_exact_storage(*q, e);
  Tensor grad(w.shape(), 1.0f);
  q->backward(w, grad);
  EXPECT_EQ(grad[4], 0.0f) << "saturated";
  EXPECT_EQ(grad[3], 1.0f);
}

TEST(Float16, AgreesWithTheCompilersHalfConversionOnManyValues) {
  Tensor w({20000});
  Rng rng(11);
  for (int64_t i = 0; i < w.numel(); ++i)
    w[i] = std::ldexp(rng.uniform(-1.0f, 1.0f), static_cast<int>(rng.below(40)) - 28);
  auto q = make_quantizer("fp16", {}, w);
  const Tensor e = effective_of(*q, w);
  for (int64_t i = 0; i < w.numel(); ++i)
    ASSERT_EQ(e[i], static_cast<float>(static_cast<_Float16>(w[i]))) << w[i];
  expect_exact_storage(*q, e);
}

TEST(BFloat16, KeepsTheTopSixteenBitsRoundedToNearestEven) {
  const Tensor w({4}, {1.0f, 1.00390625f, 1.01171875f, -3.0e38f});
  auto q = make_quantizer("bf16", {}, w);
  const Tensor e = effective_of(*q, w);
  // 1 + 2^-8 is a tie between 1 and 1 + 2^-7: to the even 1.0; 1 + 3 * 2^-8 goes up.
  EXPECT_EQ(e[0], 1.0f);
  EXPECT_EQ(e[1], 1.0f);
  EXPECT_EQ(e[2], 1.015625f);
  EXPECT_NEAR(e[3], -3.0e38f, 1e36f);
  expect_exact_storage(*q, e);
  EXPECT_NE(bad_input_message([&] { make_quantizer("bf16", {{"bits", 8}}, w); })
                .find("quantizer bf16: unknown option 'bits'"),
            std::string::npos);
}

// --- pow2 (INQ) --------------------------------------------------------------------------------

TEST(PowerOfTwo, LevelsFollowInqsRule) {
  // Largest |w| = 0.9: n1 = floor(log2(4 * 0.9 / 3)) = 0, so 5 bits give 0 and +-2^0 .. +-2^-7.
  const Tensor w({9}, {0.9f, -0.3f, 0.374f, 0.376f, 0.0039f, 0.0040f, -0.002f, 0.0f, 0.7f});
  auto q = make_quantizer("pow2", {{"bits", 5}, {"incremental", false}}, w);
  EXPECT_EQ(dynamic_cast<PowerOfTwoQuantizer&>(*q).max_exponent(), 0);
  const Tensor e = effective_of(*q, w);
  // 0.374 < 0.75 * 2^-1 = 0.375 <= 0.376; 2^-8 = 0.0039 is the zero threshold (half of 2^-7).
  const std::vector<float> expected = {1.0f, -0.25f, 0.25f, 0.5f, 0.0f, 0.0078125f, 0.0f, 0.0f, 0.5f};
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(e[static_cast<int64_t>(i)], expected[i]) << i;
  std::vector<uint32_t> codes(9);
  q->encode(e, codes);
  // Codes 1..8 are +2^0 .. +2^-7, codes 9..16 the negatives.
  EXPECT_EQ(codes, (std::vector<uint32_t>{1, 11, 3, 2, 0, 8, 0, 0, 2}));
  expect_exact_storage(*q, e);
  EXPECT_EQ(PowerOfTwoQuantizer::max_exponent_for(1.5f), 1);
  EXPECT_EQ(PowerOfTwoQuantizer::max_exponent_for(1.4999f), 0);
  EXPECT_EQ(PowerOfTwoQuantizer::max_exponent_for(0.0f), 0);
}

TEST(PowerOfTwo, IncrementalFreezesTheLargestPortionAndItNeverMoves) {
  Tensor w = random_tensor({10, 20}, 0.1f, 3);
  auto made = make_quantizer("pow2", {{"bits", 5}}, w);
  auto& q = dynamic_cast<PowerOfTwoQuantizer&>(*made);
  ASSERT_TRUE(q.incremental());
  EXPECT_EQ(effective_of(q, w), w) << "nothing is quantized before the first portion";
  EXPECT_EQ(q.freeze(w, Tensor(), 0.5), 100);
  const Tensor first = effective_of(q, w);
  float smallest_frozen = 1e9f, largest_free = 0.0f;
  int64_t frozen = 0;
  for (int64_t i = 0; i < w.numel(); ++i) {
    const bool is_level = first[i] == q.quantize(w[i]) && first[i] != w[i];
    if (is_level) {
      ++frozen;
      smallest_frozen = std::min(smallest_frozen, std::abs(w[i]));
    } else {
      EXPECT_EQ(first[i], w[i]) << "free weights stay float";
      largest_free = std::max(largest_free, std::abs(w[i]));
    }
  }
  EXPECT_EQ(frozen, 100);
  EXPECT_GE(smallest_frozen, largest_free) << "the largest magnitudes go first";
  // Training moves every latent weight; the frozen ones do not move and get no gradient.
  Tensor moved = w;
  for (float& v : moved) v += 0.05f;
  const Tensor second = effective_of(q, moved);
  Tensor grad(w.shape(), 1.0f);
  q.backward(moved, grad);
  for (int64_t i = 0; i < w.numel(); ++i) {
    const bool was_frozen = first[i] != w[i];
    if (was_frozen) {
      EXPECT_EQ(second[i], first[i]);
      EXPECT_EQ(grad[i], 0.0f);
    } else {
      EXPECT_EQ(second[i], moved[i]);
      EXPECT_EQ(grad[i], 1.0f);
    }
  }
  EXPECT_EQ(q.freeze(moved, Tensor(), 0.75), 50);
  EXPECT_DOUBLE_EQ(q.frozen_fraction(), 0.75);
  // A partly quantized weight cannot be stored.
  std::vector<uint32_t> codes(static_cast<size_t>(w.numel()));
  EXPECT_EQ(bad_input_message([&] { q.encode(effective_of(q, moved), codes); }),
            "only 75% of the weight is quantized to powers of two (INQ runs until 100% before "
            "the weight can be stored)");
  EXPECT_EQ(bad_input_message([&] { q.finish_incremental(); }),
            "pow2: incremental quantization can only finish once every weight is frozen");
  q.freeze(moved, Tensor(), 1.0);
  const Tensor done = effective_of(q, moved);
  q.finish_incremental();
  EXPECT_EQ(effective_of(q, done), done) << "after INQ the levels stand as they are";
  expect_exact_storage(q, done);
}

TEST(PowerOfTwo, StraightThroughSaturatesBeyondTheTopLevel) {
  const Tensor w({3}, {0.5f, -0.2f, 0.1f});
  auto q = make_quantizer("pow2", {{"bits", 3}, {"incremental", false}}, w);
  effective_of(*q, w);
  const Tensor far({3}, {0.5f, -0.2f, 3.0f});
  Tensor grad({3}, 1.0f);
  q->backward(far, grad);
  EXPECT_EQ(grad, Tensor({3}, {1.0f, 1.0f, 0.0f}));
}

TEST(PowerOfTwo, CorruptCodesAndStateAreClearErrors) {
  const Tensor w({2}, {0.5f, 0.25f});
  auto q = make_quantizer("pow2", {{"bits", 3}, {"incremental", false}}, w);
  effective_of(*q, w);
  Tensor values({2});
  const std::vector<uint32_t> bad = {5, 0};  // 3 bits use codes 0..4
  EXPECT_EQ(bad_input_message([&] { q->decode(bad, values); }),
            "pow2 code 5 is not one the format uses (the largest is 4)");
  std::string state;
  q->write_state(state);
  state.replace(1, 4, std::string("\xC8\0\0\0", 4));  // largest exponent 200
  EXPECT_NE(bad_input_message([&] { q->format().read_state(state, {2}); }).find("outside a float's"),
            std::string::npos);
}

// --- binary ----------------------------------------------------------------------------------

TEST(Binary, XnorScalesEachChannelByItsMeanMagnitude) {
  const Tensor w({2, 3}, {0.2f, -0.4f, 0.0f, -1.0f, -2.0f, 3.0f});
  auto q = make_quantizer("binary", {}, w);
  EXPECT_EQ(q->bits(), 1);
  const Tensor e = effective_of(*q, w);
  const float a0 = 0.2f, a1 = 2.0f;  // (0.2 + 0.4 + 0) / 3, (1 + 2 + 3) / 3
  EXPECT_EQ(e, Tensor({2, 3}, {a0, -a0, a0, -a1, -a1, a1})) << "sign(0) = +1";
  expect_exact_storage(*q, e);
  // Pruned zeros do not dilute alpha.
  const Tensor mask({2, 3}, {1, 1, 0, 1, 1, 1});
  const Tensor masked = effective_of(*q, w, mask);
  EXPECT_FLOAT_EQ(masked[0], 0.3f);
}

TEST(Binary, BinaryConnectIsPlusMinusOneWithAClippedStraightThroughGradient) {
  const Tensor w({4}, {0.3f, -0.01f, 1.5f, -2.0f});
  auto q = make_quantizer("binary", {{"scale", "none"}}, w);
  EXPECT_EQ(effective_of(*q, w), Tensor({4}, {1.0f, -1.0f, 1.0f, -1.0f}));
  Tensor grad({4}, {1.0f, 2.0f, 3.0f, 4.0f});
  q->backward(w, grad);
  EXPECT_EQ(grad, Tensor({4}, {1.0f, 2.0f, 0.0f, 0.0f}));
  auto tensor = make_quantizer("binary", {{"scale", "tensor"}}, w);
  EXPECT_FLOAT_EQ(effective_of(*tensor, w)[1], -0.9525f);
  expect_exact_storage(*tensor, effective_of(*tensor, w));
  EXPECT_NE(bad_input_message([&] { make_quantizer("binary", {{"scale", "row"}}, w); })
                .find("scale must be 'channel' (XNOR-Net), 'tensor' or 'none'"),
            std::string::npos);
}

TEST(Binary, AnAllZeroChannelIsStoredExactly) {
  const Tensor w({2, 2}, {0.0f, 0.0f, 1.0f, -1.0f});
  auto q = make_quantizer("binary", {}, w);
  const Tensor e = effective_of(*q, w);
  EXPECT_EQ(e[0], 0.0f);
  expect_exact_storage(*q, e);
}

// --- ternary ---------------------------------------------------------------------------------

TEST(Ternary, TwnThresholdsAtSevenTenthsOfTheMeanMagnitude) {
  const Tensor w({6}, {1.0f, -0.5f, 0.2f, -0.1f, 0.05f, 1.15f});
  auto q = make_quantizer("ternary", {}, w);
  EXPECT_EQ(q->bits(), 2);
  const Tensor e = effective_of(*q, w);
  // mean |w| = 0.5, delta = 0.35; kept 1, -0.5, 1.15 with alpha = 2.65 / 3.
  const float a = 2.65f / 3.0f;
  EXPECT_NEAR(e[0], a, 1e-6f);
  EXPECT_NEAR(e[1], -a, 1e-6f);
  EXPECT_EQ(e[2], 0.0f);
  EXPECT_EQ(e[3], 0.0f);
  EXPECT_EQ(e[4], 0.0f);
  std::vector<uint32_t> codes(6);
  q->encode(e, codes);
  EXPECT_EQ(codes, (std::vector<uint32_t>{1, 2, 0, 0, 0, 1}));
  expect_exact_storage(*q, e);
  Tensor grad(w.shape(), 2.0f);
  q->backward(w, grad);
  EXPECT_EQ(grad, Tensor(w.shape(), 2.0f)) << "straight through";
  auto per_channel = make_quantizer("ternary", {{"per_channel", true}}, Tensor({2, 3}));
  expect_exact_storage(*per_channel, effective_of(*per_channel, Tensor({2, 3}, {1, 0, -1, 4, -4, 0.1f})));
}

TEST(Ternary, TtqTrainsItsTwoScales) {
  const Tensor w({5}, {1.0f, 0.6f, -0.4f, -0.8f, 0.02f});
  auto q = make_quantizer("ternary", {{"method", "ttq"}}, w);
  // delta = 0.05 * 1 = 0.05; wp = mean(1, 0.6) = 0.8, wn = mean(0.4, 0.8) = 0.6.
  const Tensor e = effective_of(*q, w);
  EXPECT_EQ(e, Tensor({5}, {0.8f, 0.8f, -0.6f, -0.6f, 0.0f}));
  const std::vector<Parameter*> scales = q->state_parameters();
  ASSERT_EQ(scales.size(), 2u);
  EXPECT_EQ(scales[0]->name, "ttq_positive");
  scales[0]->grad.zero();
  scales[1]->grad.zero();
  Tensor grad({5}, {1.0f, 2.0f, 3.0f, 4.0f, 5.0f});
  q->backward(w, grad);
  EXPECT_FLOAT_EQ(scales[0]->grad[0], 3.0f);   // 1 + 2
  EXPECT_FLOAT_EQ(scales[1]->grad[0], -7.0f);  // -(3 + 4): the level is -wn
  EXPECT_FLOAT_EQ(grad[0], 0.8f);              // wp * g
  EXPECT_FLOAT_EQ(grad[2], 3.0f * 0.6f);       // wn * g
  EXPECT_FLOAT_EQ(grad[4], 5.0f);              // straight through in the zero band
  expect_exact_storage(*q, e);
  // The scales are the state: a step on them changes the effective weight.
  scales[0]->value[0] = 1.25f;
  EXPECT_EQ(effective_of(*q, w)[0], 1.25f);
  EXPECT_NE(bad_input_message([&] { make_quantizer("ternary", {{"method", "ttq"}, {"per_channel", true}}, w); })
                .find("per_channel is for twn"),
            std::string::npos);
  EXPECT_NE(bad_input_message([&] { make_quantizer("ternary", {{"threshold", -1}}, w); })
                .find("threshold must lie in [0, 2)"),
            std::string::npos);
}

// --- DoReFa ----------------------------------------------------------------------------------

TEST(DoReFa, KBitWeightsAreEvenlySpacedThroughTanh) {
  const Tensor w({4}, {0.0f, 0.5f, -1.0f, 2.0f});
  auto q = make_quantizer("dorefa", {{"bits", 2}}, w);
  const Tensor e = effective_of(*q, w);
  // m = tanh(2); r = tanh(w) / (2m) + 1/2; levels -1, -1/3, 1/3, 1.
  const float m = std::tanh(2.0f);
  for (int64_t i = 0; i < 4; ++i) {
    const float r = std::tanh(w[i]) / (2.0f * m) + 0.5f;
    EXPECT_FLOAT_EQ(e[i], 2.0f * std::nearbyint(3.0f * r) / 3.0f - 1.0f) << i;
  }
  EXPECT_EQ(e[3], 1.0f);
  expect_exact_storage(*q, e);
  Tensor grad({4}, 1.0f);
  q->backward(w, grad);
  EXPECT_FLOAT_EQ(grad[1], (1.0f - std::tanh(0.5f) * std::tanh(0.5f)) / m);
}

TEST(DoReFa, OneBitIsTheMeanMagnitudeTimesTheSign) {
  const Tensor w({4}, {0.5f, -1.5f, 0.25f, -0.75f});
  auto q = make_quantizer("dorefa", {{"bits", 1}}, w);
  EXPECT_EQ(effective_of(*q, w), Tensor({4}, {0.75f, -0.75f, 0.75f, -0.75f}));
  expect_exact_storage(*q, effective_of(*q, w));
  EXPECT_EQ(bad_input_message([&] { make_quantizer("dorefa", {{"bits", 0}}, w); }),
            "quantizer dorefa: bits must be in 1..8, got 0");
}

TEST(WeightFormats, EveryFormatStoresAndReloadsARandomWeightExactly) {
  const Tensor w = random_tensor({16, 9}, 0.2f, 21);
  const std::vector<std::pair<std::string, nlohmann::json>> cases = {
      {"affine", {{"bits", 3}, {"range", "mse"}}},
      {"fp16", {}},
      {"bf16", {}},
      {"pow2", {{"bits", 4}, {"incremental", false}}},
      {"binary", {{"scale", "channel"}}},
      {"ternary", {{"per_channel", true}}},
      {"ternary", {{"method", "ttq"}}},
      {"dorefa", {{"bits", 3}}},
      {"kmeans", {{"bits", 3}}},
  };
  for (const auto& [name, options] : cases) {
    SCOPED_TRACE(name);
    auto q = make_quantizer(name, options, w);
    expect_exact_storage(*q, effective_of(*q, w));
  }
}

TEST(WeightFormats, NonFiniteWeightsAreRejectedByEveryFormat) {
  Tensor w({3}, {0.1f, std::numeric_limits<float>::infinity(), 0.2f});
  for (const QuantizerFormat* format : quantizer_formats())
    EXPECT_NE(bad_input_message([&] { make_quantizer(format->name, {}, w); }).find("holds inf at element 1"),
              std::string::npos)
        << format->name;
  // A latent weight that turns NaN while training is caught when it is next quantized.
  Parameter p;
  p.name = "fc.weight";
  p.value = Tensor({2}, {0.1f, 0.2f});
  p.set_quantizer(make_quantizer("binary", {}, p.value));
  p.value[1] = std::numeric_limits<float>::quiet_NaN();
  p.mark_changed();
  EXPECT_EQ(bad_input_message([&] { p.effective(); })
                .rfind("parameter fc.weight holds nan at element 1", 0),
            0u);
}

}  // namespace
}  // namespace shrink
