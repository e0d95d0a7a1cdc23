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

TEST(ReLU, ForwardClampsNegativesToZero) {
  auto op = make_op("ReLU", {});
  const Tensor y = run(*op, Tensor({2, 3}, {-2.0f, -0.5f, 0.0f, 0.25f, 3.0f, -7.0f}));
  EXPECT_EQ(y, Tensor({2, 3}, {0.0f, 0.0f, 0.0f, 0.25f, 3.0f, 0.0f}));
}

TEST(ReLU, BackwardPassesGradientOnlyWherePositive) {
  auto op = make_op("ReLU", {});
  const Tensor x({1, 4}, {-1.0f, 2.0f, -3.0f, 4.0f});
  OpArgs args;
  args.inputs = {&x};
  Tensor y({1, 4});
  op->forward(args, y);
  Tensor gx({9}, 99.0f);  // wrong shape on purpose: backward must resize and overwrite
  op->backward(args, y, Tensor({1, 4}, {10.0f, 20.0f, 30.0f, 40.0f}), {&gx});
  EXPECT_EQ(gx, Tensor({1, 4}, {0.0f, 20.0f, 0.0f, 40.0f}));
  op->backward(args, y, Tensor({1, 4}, 1.0f), {nullptr});  // no gradient wanted: no crash
}

TEST(ReLU, GradientMatchesFiniteDifferences) {
  auto op = make_op("ReLU", {});
  // Values at least 0.1 from the kink, so +-epsilon never crosses it.
  Tensor x({2, 3, 2}, {-1.5f, 0.2f, 0.7f, -0.3f, 2.0f, -0.1f, 0.1f, -2.2f, 1.1f, 0.5f, -0.6f, 3.0f});
  expect_gradients_match(*op, {x}, {}, 1e-3);
}

TEST(ReLU, LargeTensorTakesTheParallelPath) {
  auto op = make_op("ReLU", {});
  Tensor x({4, 70000});
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = static_cast<float>(i % 7) - 3.0f;
  const Tensor y = run(*op, x);
  for (int64_t i = 0; i < x.numel(); ++i) ASSERT_EQ(y[i], x[i] > 0 ? x[i] : 0.0f) << i;
}

TEST(ReLU, AttributesRoundTripAndUnknownOnesAreRejected) {
  auto op = make_op("ReLU", {});
  EXPECT_EQ(op->type(), "ReLU");
  EXPECT_EQ(make_op(op->type(), op->attributes())->attributes(), op->attributes());
  try {
    make_op("ReLU", {{"inplace", true}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown attribute 'inplace'"), std::string::npos)
        << e.what();
  }
}

TEST(ReLU, WrongInputCountNamesTheOp) {
  auto op = make_op("ReLU", {});
  try {
    op->output_shape({{2, 3}, {2, 3}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::BadInput);
    EXPECT_NE(std::string(e.what()).find("ReLU takes 1 input, got 2"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace shrink
