#include "shrink/core/error.hpp"
#include "shrink/core/random.hpp"
#include "shrink/nn/gradient_check.hpp"
#include "shrink/nn/op.hpp"
#include "op_testing.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace shrink {
namespace {

using testing::expect_gradients_match;

Tensor run(Op& op, const Tensor& x) {
  OpArgs args;
  args.inputs = {&x};
  Tensor out(op.output_shape({x.shape()}));
  op.forward(args, out);
  return out;
}

TEST(Sigmoid, ForwardMatchesHandComputedValues) {
  auto op = make_op("Sigmoid", {});
  const Tensor y = run(*op, Tensor({1, 5}, {0.0f, 1.0f, -2.0f, 4.0f, -4.0f}));
  EXPECT_NEAR(y[0], 0.5f, 1e-6);
  EXPECT_NEAR(y[1], 0.73105858f, 1e-6);
  EXPECT_NEAR(y[2], 0.11920292f, 1e-6);
  EXPECT_NEAR(y[3], 0.98201379f, 1e-6);
  EXPECT_NEAR(y[4], 0.01798621f, 1e-6);
}

TEST(Sigmoid, SaturatesWithoutOverflow) {
  auto op = make_op("Sigmoid", {});
  const Tensor y = run(*op, Tensor({1, 2}, {-200.0f, 200.0f}));
  EXPECT_TRUE(std::isfinite(y[0]) && std::isfinite(y[1]));
  EXPECT_GE(y[0], 0.0f);
  EXPECT_LT(y[0], 1e-7f);
  EXPECT_FLOAT_EQ(y[1], 1.0f);
}

TEST(Sigmoid, GradientMatchesFiniteDifferences) {
  auto op = make_op("Sigmoid", {});
  Rng rng(3);
  Tensor x({3, 4});
  for (float& v : x) v = rng.uniform(-4.0f, 4.0f);
  expect_gradients_match(*op, {x}, {}, 1e-3);
}

TEST(Sigmoid, AttributesRoundTripAndInputsAreValidated) {
  auto op = make_op("Sigmoid", {});
  EXPECT_EQ(make_op(op->type(), op->attributes())->type(), "Sigmoid");
  try {
    op->output_shape({{2}, {2}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Sigmoid takes 1 input, got 2"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace shrink
