#include "shrink/nn/loss.hpp"

#include "shrink/core/error.hpp"
#include "shrink/core/random.hpp"
#include "shrink/nn/gradient_check.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

namespace shrink {
namespace {

void expect_bad_input(const std::function<void()>& action, const std::string& needle) {
  try {
    action();
    FAIL() << "expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::BadInput);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(CrossEntropy, MatchesHandComputedValues) {
  const Tensor one({1, 3}, {1, 2, 3});
  // -log softmax([1, 2, 3])[2]
  EXPECT_NEAR(cross_entropy(one, {2}, 0.0f, nullptr), 0.40760596f, 1e-6);
  // target (0.1/3, 0.1/3, 0.9 + 0.1/3): 0.4076 + 0.1 * (mean of -log p) - 0.1 * 0.4076 = 0.5076
  EXPECT_NEAR(cross_entropy(one, {2}, 0.1f, nullptr), 0.50760596f, 1e-6);
  // The batch is averaged: row 2 alone gives 1.74131130 with s = 0.1.
  const Tensor two({2, 3}, {1, 2, 3, 0.5f, -1, 2});
  EXPECT_NEAR(cross_entropy(two, {2, 0}, 0.1f, nullptr), 1.12445863f, 1e-6);
}

TEST(CrossEntropy, GradientIsSoftmaxMinusTargetOverBatch) {
  const Tensor logits({2, 3}, {1, 2, 3, 0, 0, 0});
  Tensor grad({5}, 7.0f);  // wrong shape on purpose: must be resized and overwritten
  cross_entropy(logits, {2, 1}, 0.0f, &grad);
  ASSERT_EQ(grad.shape(), (Shape{2, 3}));
  EXPECT_NEAR(grad[0], 0.09003057f / 2, 1e-6);
  EXPECT_NEAR(grad[1], 0.24472847f / 2, 1e-6);
  EXPECT_NEAR(grad[2], (0.66524096f - 1.0f) / 2, 1e-6);
  EXPECT_NEAR(grad[3], (1.0f / 3) / 2, 1e-6);
  EXPECT_NEAR(grad[4], (1.0f / 3 - 1.0f) / 2, 1e-6);
  // Every row of the gradient sums to zero (the targets sum to one).
  EXPECT_NEAR(grad[0] + grad[1] + grad[2], 0.0f, 1e-6);
}

TEST(CrossEntropy, GradientMatchesFiniteDifferences) {
  Rng rng(12);
  Tensor logits({5, 4});
  for (float& v : logits) v = rng.uniform(-3.0f, 3.0f);
  const std::vector<int32_t> labels{0, 3, 1, 1, 2};
  for (float smoothing : {0.0f, 0.2f}) {
    Tensor grad;
    cross_entropy(logits, labels, smoothing, &grad);
    auto f = [&] { return static_cast<double>(cross_entropy(logits, labels, smoothing, nullptr)); };
    const auto result = check_gradient(f, logits, grad, "logits", 1e-2);
    // Relative error: the central difference's own truncation error at epsilon 1e-2 is a few
    // 1e-3 here; a gradient 5% off would show as 5e-2.
    EXPECT_LT(result.max_error, 5e-3) << "smoothing " << smoothing << ": " << result.worst;
  }
}

TEST(CrossEntropy, LargeLogitsStayFinite) {
  const Tensor logits({2, 2}, {1000.0f, 0.0f, -500.0f, 500.0f});
  Tensor grad;
  const float loss = cross_entropy(logits, {1, 1}, 0.0f, &grad);
  EXPECT_NEAR(loss, 500.0f, 1e-3);  // (1000 + 0) / 2
  for (float g : grad) EXPECT_TRUE(std::isfinite(g));
  EXPECT_NEAR(grad[0], 0.5f, 1e-6);
  EXPECT_NEAR(grad[1], -0.5f, 1e-6);
}

TEST(CrossEntropy, BadInputsGiveClearErrors) {
  const Tensor logits({2, 3});
  expect_bad_input([&] { cross_entropy(logits, {0, 3}, 0.0f, nullptr); },
                   "label 3 of sample 1 is outside the 3 classes [0, 2]");
  expect_bad_input([&] { cross_entropy(logits, {-1, 0}, 0.0f, nullptr); },
                   "label -1 of sample 0");
  expect_bad_input([&] { cross_entropy(logits, {0}, 0.0f, nullptr); },
                   "got 1 labels for logits [2, 3]");
  expect_bad_input([&] { cross_entropy(Tensor({6}), {0}, 0.0f, nullptr); },
                   "expects logits [N, K], got shape [6]");
  expect_bad_input([&] { cross_entropy(logits, {0, 1}, 1.5f, nullptr); },
                   "label_smoothing must be in [0, 1]");
  expect_bad_input([&] { cross_entropy(Tensor({0, 3}), {}, 0.0f, nullptr); },
                   "at least one sample");
}

}  // namespace
}  // namespace shrink
