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

Tensor run(Op& op, const Tensor& x, bool training, Rng* rng) {
  OpArgs args;
  args.inputs = {&x};
  args.training = training;
  args.rng = rng;
  Tensor out(op.output_shape({x.shape()}));
  op.forward(args, out);
  return out;
}

TEST(Dropout, TrainingZeroesAboutPAndScalesSurvivors) {
  auto op = make_op("Dropout", {{"p", 0.25}});
  Tensor x({50, 400});
  Rng fill(2);
  for (float& v : x) v = fill.uniform(0.5f, 1.5f);
  Rng rng(9);
  const Tensor y = run(*op, x, true, &rng);
  int64_t zeros = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (y[i] == 0.0f) ++zeros;
    else ASSERT_FLOAT_EQ(y[i], x[i] / 0.75f) << i;
  }
  EXPECT_NEAR(static_cast<double>(zeros) / static_cast<double>(x.numel()), 0.25, 0.02);
}

TEST(Dropout, EvalIsTheIdentityAndNeedsNoRng) {
  auto op = make_op("Dropout", {});
  const Tensor x({2, 3}, {1, -2, 3, -4, 5, -6});
  EXPECT_EQ(run(*op, x, false, nullptr), x);
  OpArgs args;
  args.inputs = {&x};
  Tensor gx;
  op->backward(args, x, Tensor({2, 3}, 3.0f), {&gx});
  EXPECT_EQ(gx, Tensor({2, 3}, 3.0f));
}

TEST(Dropout, SameSeedGivesTheSameMask) {
  auto op = make_op("Dropout", {{"p", 0.5}});
  const Tensor x({4, 16}, 1.0f);
  Rng a(5), b(5), c(6);
  EXPECT_EQ(run(*op, x, true, &a), run(*op, x, true, &b));
  EXPECT_NE(run(*op, x, true, &a), run(*op, x, true, &c));
}

TEST(Dropout, BackwardReusesTheForwardMask) {
  auto op = make_op("Dropout", {{"p", 0.5}});
  const Tensor x({3, 20}, 1.0f);
  Rng rng(3);
  OpArgs args;
  args.inputs = {&x};
  args.training = true;
  args.rng = &rng;
  Tensor y({3, 20});
  op->forward(args, y);
  Tensor gx;
  op->backward(args, y, Tensor({3, 20}, 1.0f), {&gx});  // rng has moved on: must not redraw
  EXPECT_EQ(gx, y);
}

TEST(Dropout, GradientMatchesFiniteDifferencesInBothModes) {
  auto op = make_op("Dropout", {{"p", 0.4}});
  Rng fill(8);
  Tensor x({4, 5});
  for (float& v : x) v = fill.uniform(-1.0f, 1.0f);
  for (bool training : {true, false}) {
    expect_gradients_match(*op, {x}, {}, 1e-3, training ? "training" : "eval", training);
  }
}

TEST(Dropout, ExtremeProbabilities) {
  const Tensor x({2, 5}, 2.0f);
  Rng rng(1);
  EXPECT_EQ(run(*make_op("Dropout", {{"p", 0.0}}), x, true, &rng), x);
  EXPECT_EQ(run(*make_op("Dropout", {{"p", 1.0}}), x, true, &rng), Tensor({2, 5}, 0.0f));
}

TEST(Dropout, AttributesRoundTripThroughMakeOp) {
  auto op = make_op("Dropout", {{"p", 0.3}});
  EXPECT_EQ(make_op(op->type(), op->attributes())->attributes(), op->attributes());
  EXPECT_DOUBLE_EQ(op->attributes()["p"].get<double>(), 0.3);
  EXPECT_DOUBLE_EQ(make_op("Dropout", {})->attributes()["p"].get<double>(), 0.5);
}

TEST(Dropout, BadInputsAreRejected) {
  try {
    make_op("Dropout", {{"p", 1.5}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Dropout: probability p must be in [0, 1], got 1.5"),
              std::string::npos)
        << e.what();
  }
  auto op = make_op("Dropout", {});
  const Tensor x({2, 2}, 1.0f);
  try {
    run(*op, x, true, nullptr);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::BadInput);
    EXPECT_NE(std::string(e.what()).find("Dropout needs a random generator"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace shrink
