#include "shrink/core/error.hpp"
#include "shrink/nn/gradient_check.hpp"
#include "shrink/nn/op.hpp"

#include "op_testing.hpp"

#include <gtest/gtest.h>

#include <string>

namespace shrink::testing {
namespace {

TEST(Add, SumsTwoOrMoreInputs) {
  auto op = make_op("Add", {});
  EXPECT_EQ(op->arity(), -1);
  const Tensor a({2, 2}, {1, 2, 3, 4}), b({2, 2}, {10, 20, 30, 40}), c({2, 2}, {-1, -1, -1, -1});
  OpArgs args;
  args.inputs = {&a, &b};
  Tensor y(op->output_shape({a.shape(), b.shape()}));
  op->forward(args, y);
  EXPECT_EQ(y, Tensor({2, 2}, {11, 22, 33, 44}));
  args.inputs = {&a, &b, &c};
  op->forward(args, y);
  EXPECT_EQ(y, Tensor({2, 2}, {10, 21, 32, 43}));
}

TEST(Add, BackwardCopiesTheGradientToEveryInputThatWantsIt) {
  auto op = make_op("Add", {});
  const Tensor a({1, 3}, {1, 2, 3}), b({1, 3}, {4, 5, 6});
  OpArgs args;
  args.inputs = {&a, &b};
  Tensor y({1, 3});
  op->forward(args, y);
  const Tensor gy({1, 3}, {0.5f, -1.0f, 2.0f});
  Tensor ga({7}, 9.0f), gb;
  op->backward(args, y, gy, {&ga, &gb});
  EXPECT_EQ(ga, gy);
  EXPECT_EQ(gb, gy);
  Tensor only_b;
  op->backward(args, y, gy, {nullptr, &only_b});
  EXPECT_EQ(only_b, gy);
}

TEST(Add, GradientMatchesFiniteDifferences) {
  auto op = make_op("Add", {});
  for (size_t count : {2u, 3u}) {
    std::vector<Tensor> inputs;
    for (size_t i = 0; i < count; ++i) inputs.push_back(random_tensor({2, 3, 2}, 10 + i));
    expect_gradients_match(*op, inputs, {}, 1e-3, std::to_string(count) + " inputs");
  }
}

TEST(Add, LargeInputsTakeTheParallelPath) {
  auto op = make_op("Add", {});
  const Tensor a = random_tensor({3, 50000}, 1), b = random_tensor({3, 50000}, 2);
  OpArgs args;
  args.inputs = {&a, &b};
  Tensor y({3, 50000});
  op->forward(args, y);
  for (int64_t i = 0; i < y.numel(); ++i) ASSERT_EQ(y[i], a[i] + b[i]) << i;
}

TEST(Add, AttributesRoundTripThroughMakeOp) {
  auto op = make_op("Add", {});
  EXPECT_EQ(make_op(op->type(), op->attributes())->type(), "Add");
  EXPECT_TRUE(op->attributes().empty());
}

TEST(Add, ShapeMismatchNamesBothShapes) {
  auto op = make_op("Add", {});
  try {
    op->output_shape({{2, 3}, {2, 3}, {2, 4}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::BadInput);
    EXPECT_NE(std::string(e.what()).find("Add: input 2 has shape [2, 4] but input 0 has shape [2, 3]"),
              std::string::npos)
        << e.what();
  }
  try {
    op->output_shape({{2, 3}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Add takes at least 2 inputs, got 1"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace shrink::testing
