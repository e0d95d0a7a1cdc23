#include "shrink/core/error.hpp"
#include "shrink/core/random.hpp"
#include "shrink/nn/gradient_check.hpp"
#include "shrink/nn/op.hpp"
#include "op_testing.hpp"

#include <gtest/gtest.h>

#include <string>

namespace shrink {
namespace {

using testing::expect_gradients_match;

TEST(Tanh, ForwardAndBackwardMatchHandComputedValues) {
  auto op = make_op("Tanh", {});
  const Tensor x({1, 4}, {0.0f, 0.5f, -1.0f, 3.0f});
  OpArgs args;
  args.inputs = {&x};
  Tensor y({1, 4});
  op->forward(args, y);
  EXPECT_NEAR(y[0], 0.0f, 1e-7);
  EXPECT_NEAR(y[1], 0.46211716f, 1e-6);
  EXPECT_NEAR(y[2], -0.76159416f, 1e-6);
  EXPECT_NEAR(y[3], 0.99505475f, 1e-6);
  Tensor gx;
  op->backward(args, y, Tensor({1, 4}, 2.0f), {&gx});
  ASSERT_EQ(gx.shape(), x.shape());
  EXPECT_NEAR(gx[0], 2.0f, 1e-6);                              // 2 * (1 - 0)
  EXPECT_NEAR(gx[2], 2.0f * (1.0f - 0.76159416f * 0.76159416f), 1e-6);
}

TEST(Tanh, GradientMatchesFiniteDifferences) {
  auto op = make_op("Tanh", {});
  Rng rng(4);
  Tensor x({2, 3, 2});
  for (float& v : x) v = rng.uniform(-2.5f, 2.5f);
  expect_gradients_match(*op, {x}, {}, 1e-3);
}

TEST(Tanh, AttributesRoundTripAndUnknownOnesAreRejected) {
  auto op = make_op("Tanh", {});
  EXPECT_EQ(make_op(op->type(), op->attributes())->type(), "Tanh");
  try {
    make_op("Tanh", {{"alpha", 1}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Tanh: unknown attribute 'alpha' (it takes none)"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace shrink
