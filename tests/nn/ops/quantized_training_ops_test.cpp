// The ops of quantized training: Sign (binary activations), DoReFaQuantize (k-bit activations)
// and GradientQuantize (k-bit gradients). Their backward passes are straight-through estimators
// by design, not the derivative of the forward pass (which is zero almost everywhere), so they
// are tested against those estimators rather than finite differences.
#include "nn/ops/op_testing.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

namespace shrink::testing {
namespace {

Tensor backward(Op& op, const Tensor& x, const Tensor& dy, Rng* rng = nullptr) {
  OpArgs args;
  args.inputs = {&x};
  args.rng = rng;
  Tensor y(op.output_shape({x.shape()}));
  op.forward(args, y);
  Tensor dx({3}, 99.0f);  // wrong shape on purpose: backward resizes and overwrites
  op.backward(args, y, dy, {&dx});
  op.backward(args, y, dy, {nullptr});  // no gradient wanted: no crash
  return dx;
}

TEST(Sign, ForwardIsPlusOneFromZeroUpAndMinusOneBelow) {
  auto op = make_op("Sign", {});
  const Tensor x({2, 3}, {-2.0f, -1e-30f, 0.0f, 1e-30f, 5.0f, -0.0f});
  EXPECT_EQ(run_forward(*op, x), Tensor({2, 3}, {-1.0f, -1.0f, 1.0f, 1.0f, 1.0f, 1.0f}));
  const Tensor nan({1, 1}, {std::nanf("")});
  EXPECT_TRUE(std::isnan(run_forward(*op, nan)[0])) << "divergence stays visible";
}

TEST(Sign, BackwardIsTheClippedStraightThroughEstimator) {
  auto op = make_op("Sign", {});
  const Tensor x({1, 5}, {-1.5f, -1.0f, 0.3f, 1.0f, 2.0f});
  EXPECT_EQ(backward(*op, x, Tensor({1, 5}, {1.0f, 2.0f, 3.0f, 4.0f, 5.0f})),
            Tensor({1, 5}, {0.0f, 2.0f, 3.0f, 4.0f, 0.0f}));
  expect_round_trip("Sign", {});
  EXPECT_NE(bad_input_message([] { make_op("Sign", {{"bits", 2}}); }).find("unknown attribute 'bits'"),
            std::string::npos);
}

TEST(DoReFaQuantize, ForwardClipsToZeroOneAndRoundsToTheLevels) {
  auto op = make_op("DoReFaQuantize", {{"bits", 2}});
  // Levels 0, 1/3, 2/3, 1; 0.5 is a tie between 1/3 and 2/3 (1.5 steps) and goes to even 2/3.
  const Tensor x({1, 6}, {-0.4f, 0.1f, 0.2f, 0.5f, 0.9f, 7.0f});
  expect_values(run_forward(*op, x), {1, 6}, {0.0f, 0.0f, 1.0f / 3, 2.0f / 3, 1.0f, 1.0f});
  EXPECT_EQ(backward(*op, x, Tensor({1, 6}, 1.0f)), Tensor({1, 6}, {0.0f, 1.0f, 1.0f, 1.0f, 1.0f, 0.0f}));
  expect_round_trip("DoReFaQuantize", {{"bits", 4}});
  EXPECT_NE(bad_input_message([] { make_op("DoReFaQuantize", {}); }).find("attribute 'bits' is required"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] { make_op("DoReFaQuantize", {{"bits", 17}}); }).find("at most 16"),
            std::string::npos);
}

TEST(GradientQuantize, ForwardIsTheIdentity) {
  auto op = make_op("GradientQuantize", {{"bits", 4}});
  const Tensor x = random_tensor({3, 2, 5}, 1);
  EXPECT_EQ(run_forward(*op, x), x);
  expect_round_trip("GradientQuantize", {{"bits", 6}});
}

TEST(GradientQuantize, BackwardRoundsEachSamplesGradientToItsLevelsWithoutBias) {
  auto op = make_op("GradientQuantize", {{"bits", 2}});
  const Tensor x({2, 4});
  const Tensor dy({2, 4}, {0.3f, -0.1f, 0.05f, -0.6f, 2.0f, 1.0f, 0.0f, -0.5f});
  Rng rng(7);
  const int kTrials = 4000;
  std::vector<double> mean(8, 0.0);
  for (int t = 0; t < kTrials; ++t) {
    const Tensor dx = backward(*op, x, dy, &rng);
    for (int64_t s = 0; s < 2; ++s) {
      // Sample s's levels: 2m (q / 3 - 1/2) for q = 0..3, m its largest |dy|.
      const float m = s == 0 ? 0.6f : 2.0f;
      for (int64_t i = 0; i < 4; ++i) {
        const float v = dx[s * 4 + i];
        const float q = (v / (2.0f * m) + 0.5f) * 3.0f;
        EXPECT_NEAR(q, std::nearbyint(q), 1e-4f) << v;
        mean[static_cast<size_t>(s * 4 + i)] += v;
      }
    }
  }
  // Stochastic rounding is unbiased: the mean over many draws approaches the gradient.
  for (int64_t i = 0; i < 8; ++i)
    EXPECT_NEAR(mean[static_cast<size_t>(i)] / kTrials, dy[i], 0.03) << i;
  // The largest magnitude of a sample is always a level; an all-zero sample stays zero.
  const Tensor zero({1, 3});
  EXPECT_EQ(backward(*op, zero, Tensor({1, 3}), &rng), Tensor({1, 3}));
}

TEST(GradientQuantize, SameSeedSameGradients) {
  auto op = make_op("GradientQuantize", {{"bits", 3}});
  const Tensor x({2, 50});
  const Tensor dy = random_tensor({2, 50}, 3);
  Rng a(11), b(11);
  EXPECT_EQ(backward(*op, x, dy, &a), backward(*op, x, dy, &b));
}

}  // namespace
}  // namespace shrink::testing
