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

void expect_bad_input(const std::function<void()>& action, const std::string& needle) {
  try {
    action();
    FAIL() << "expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::BadInput);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Flatten, MergesEverythingAfterTheBatchByDefault) {
  auto op = make_op("Flatten", {});
  EXPECT_EQ(op->output_shape({{2, 3, 4, 5}}), (Shape{2, 60}));
  EXPECT_EQ(op->output_shape({{7, 10}}), (Shape{7, 10}));
  Tensor x({2, 2, 1, 3});
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = static_cast<float>(i);
  OpArgs args;
  args.inputs = {&x};
  Tensor y(op->output_shape({x.shape()}));
  op->forward(args, y);
  EXPECT_EQ(y, Tensor({2, 6}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
  Tensor gx;
  op->backward(args, y, y, {&gx});
  EXPECT_EQ(gx.shape(), x.shape());
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(gx[i], x[i]);
}

TEST(Flatten, StartDimKeepsLeadingDimensions) {
  EXPECT_EQ(make_op("Flatten", {{"start_dim", 2}})->output_shape({{2, 3, 4, 5}}),
            (Shape{2, 3, 20}));
  EXPECT_EQ(make_op("Flatten", {{"start_dim", -2}})->output_shape({{2, 3, 4, 5}}),
            (Shape{2, 3, 20}));
  EXPECT_EQ(make_op("Flatten", {{"start_dim", 3}})->output_shape({{2, 3, 4, 5}}),
            (Shape{2, 3, 4, 5}));
}

TEST(Flatten, GradientMatchesFiniteDifferences) {
  auto op = make_op("Flatten", {});
  Rng rng(1);
  Tensor x({2, 3, 2, 2});
  for (float& v : x) v = rng.uniform(-1.0f, 1.0f);
  expect_gradients_match(*op, {x}, {}, 1e-3);
}

TEST(Flatten, AttributesRoundTripThroughMakeOp) {
  auto op = make_op("Flatten", {{"start_dim", 2}});
  const auto again = make_op(op->type(), op->attributes());
  EXPECT_EQ(again->attributes(), op->attributes());
  EXPECT_EQ(again->attributes()["start_dim"].get<int64_t>(), 2);
  EXPECT_EQ(make_op("Flatten", {})->attributes()["start_dim"].get<int64_t>(), 1);
}

TEST(Flatten, BadStartDimIsRejected) {
  expect_bad_input([] { make_op("Flatten", {{"start_dim", 0}}); }, "merge the batch dimension");
  expect_bad_input([] { make_op("Flatten", {{"start_dim", 4}})->output_shape({{2, 3, 4, 5}}); },
                   "Flatten: start_dim 4 is out of range for input [2, 3, 4, 5]");
  expect_bad_input([] { make_op("Flatten", {{"start_dim", -4}})->output_shape({{2, 3, 4, 5}}); },
                   "start_dim -4 is out of range");
  expect_bad_input([] { make_op("Flatten", {})->output_shape({{5}}); },
                   "start_dim 1 is out of range for input [5]");
}

}  // namespace
}  // namespace shrink
