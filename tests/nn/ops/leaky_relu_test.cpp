#include "shrink/core/error.hpp"
#include "shrink/nn/gradient_check.hpp"
#include "shrink/nn/op.hpp"
#include "op_testing.hpp"

#include <gtest/gtest.h>

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

TEST(LeakyReLU, DefaultSlopeIsPyTorchs) {
  auto op = make_op("LeakyReLU", {});
  const Tensor y = run(*op, Tensor({1, 4}, {-2.0f, -0.5f, 0.0f, 3.0f}));
  EXPECT_FLOAT_EQ(y[0], -0.02f);
  EXPECT_FLOAT_EQ(y[1], -0.005f);
  EXPECT_FLOAT_EQ(y[2], 0.0f);
  EXPECT_FLOAT_EQ(y[3], 3.0f);
  EXPECT_DOUBLE_EQ(op->attributes()["negative_slope"].get<double>(), 0.01);
}

TEST(LeakyReLU, SlopeAttributeScalesNegativesInForwardAndBackward) {
  auto op = make_op("LeakyReLU", {{"negative_slope", 0.2}});
  const Tensor x({2, 2}, {-1.0f, 2.0f, -3.0f, 0.5f});
  OpArgs args;
  args.inputs = {&x};
  Tensor y({2, 2});
  op->forward(args, y);
  EXPECT_FLOAT_EQ(y[0], -0.2f);
  EXPECT_FLOAT_EQ(y[1], 2.0f);
  EXPECT_FLOAT_EQ(y[2], -0.6f);
  EXPECT_FLOAT_EQ(y[3], 0.5f);
  Tensor gx;
  op->backward(args, y, Tensor({2, 2}, {1.0f, 1.0f, 5.0f, 5.0f}), {&gx});
  ASSERT_EQ(gx.shape(), x.shape());
  EXPECT_FLOAT_EQ(gx[0], 0.2f);
  EXPECT_FLOAT_EQ(gx[1], 1.0f);
  EXPECT_FLOAT_EQ(gx[2], 1.0f);
  EXPECT_FLOAT_EQ(gx[3], 5.0f);
}

TEST(LeakyReLU, GradientMatchesFiniteDifferences) {
  auto op = make_op("LeakyReLU", {{"negative_slope", 0.3}});
  Tensor x({3, 2, 2}, {-1.5f, 0.2f, 0.7f, -0.3f, 2.0f, -0.1f, 0.1f, -2.2f, 1.1f, 0.5f, -0.6f, 3.0f});
  expect_gradients_match(*op, {x}, {}, 1e-3);
}

TEST(LeakyReLU, AttributesRoundTripThroughMakeOp) {
  auto op = make_op("LeakyReLU", {{"negative_slope", 0.125}});
  const auto again = make_op(op->type(), op->attributes());
  EXPECT_EQ(again->type(), "LeakyReLU");
  EXPECT_EQ(again->attributes(), op->attributes());
  EXPECT_DOUBLE_EQ(again->attributes()["negative_slope"].get<double>(), 0.125);
}

TEST(LeakyReLU, BadAttributesAreRejected) {
  try {
    make_op("LeakyReLU", {{"slope", 0.2}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::BadInput);
    EXPECT_NE(std::string(e.what()).find("unknown attribute 'slope'; known attributes: negative_slope"),
              std::string::npos)
        << e.what();
  }
  try {
    make_op("LeakyReLU", {{"negative_slope", "steep"}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("LeakyReLU"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace shrink
