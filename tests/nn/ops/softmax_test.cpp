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

Tensor random_tensor(const Shape& shape, uint64_t seed, float scale = 2.0f) {
  Rng rng(seed);
  Tensor t(shape);
  for (float& v : t) v = rng.uniform(-scale, scale);
  return t;
}

Tensor run(Op& op, const Tensor& x) {
  OpArgs args;
  args.inputs = {&x};
  Tensor out(op.output_shape({x.shape()}));
  op.forward(args, out);
  return out;
}

// Softmax over `axis` of a [A, B, C] tensor, in double, written out index by index.
Tensor reference(const Tensor& x, int axis) {
  const int64_t dims[3] = {x.dim(0), x.dim(1), x.dim(2)};
  auto at = [&](int64_t i, int64_t j, int64_t k) { return (i * dims[1] + j) * dims[2] + k; };
  Tensor y(x.shape());
  int64_t idx[3];
  for (idx[0] = 0; idx[0] < dims[0]; ++idx[0])
    for (idx[1] = 0; idx[1] < dims[1]; ++idx[1])
      for (idx[2] = 0; idx[2] < dims[2]; ++idx[2]) {
        int64_t other[3] = {idx[0], idx[1], idx[2]};
        double sum = 0.0;
        for (other[axis] = 0; other[axis] < dims[axis]; ++other[axis])
          sum += std::exp(static_cast<double>(x[at(other[0], other[1], other[2])]));
        const int64_t i = at(idx[0], idx[1], idx[2]);
        y[i] = static_cast<float>(std::exp(static_cast<double>(x[i])) / sum);
      }
  return y;
}

TEST(Softmax, RowsMatchHandComputedValuesAndSumToOne) {
  auto op = make_op("Softmax", {});
  const Tensor y = run(*op, Tensor({2, 3}, {1, 2, 3, 0, 0, 0}));
  EXPECT_NEAR(y[0], 0.09003057f, 1e-6);
  EXPECT_NEAR(y[1], 0.24472847f, 1e-6);
  EXPECT_NEAR(y[2], 0.66524096f, 1e-6);
  for (int k = 3; k < 6; ++k) EXPECT_NEAR(y[k], 1.0f / 3.0f, 1e-6);
  const Tensor z = run(*op, random_tensor({5, 7}, 3, 5.0f));
  for (int n = 0; n < 5; ++n) {
    float sum = 0.0f;
    for (int k = 0; k < 7; ++k) sum += z[n * 7 + k];
    EXPECT_NEAR(sum, 1.0f, 1e-6);
  }
}

TEST(Softmax, LargeLogitsDoNotOverflow) {
  auto op = make_op("Softmax", {});
  const Tensor y = run(*op, Tensor({1, 3}, {1000.0f, 1001.0f, -1000.0f}));
  EXPECT_NEAR(y[0], 0.26894142f, 1e-6);
  EXPECT_NEAR(y[1], 0.73105858f, 1e-6);
  EXPECT_EQ(y[2], 0.0f);
}

TEST(Softmax, AnyDimensionMatchesTheReference) {
  const Tensor x = random_tensor({3, 4, 5}, 7);
  for (int dim : {1, 2, -1, -2}) {
    const Tensor y = run(*make_op("Softmax", {{"dim", dim}}), x);
    const Tensor expected = reference(x, dim < 0 ? dim + 3 : dim);
    for (int64_t i = 0; i < x.numel(); ++i) ASSERT_NEAR(y[i], expected[i], 1e-6) << dim << " " << i;
  }
}

TEST(Softmax, GradientMatchesFiniteDifferences) {
  for (int dim : {1, -1, 2}) {
    auto op = make_op("Softmax", {{"dim", dim}});
    expect_gradients_match(*op, {random_tensor({3, 4, 2}, 5)}, {}, 1e-3, "dim " + std::to_string(dim));
  }
}

TEST(Softmax, LargeBatchTakesTheParallelPath) {
  auto op = make_op("Softmax", {{"dim", -1}});
  const Tensor x = random_tensor({2000, 40}, 9);
  const Tensor y = run(*op, x);
  for (int64_t n = 0; n < 2000; ++n) {
    double sum = 0.0;
    for (int64_t k = 0; k < 40; ++k) sum += y[n * 40 + k];
    ASSERT_NEAR(sum, 1.0, 1e-5) << n;
  }
}

TEST(Softmax, AttributesRoundTripThroughMakeOp) {
  auto op = make_op("Softmax", {{"dim", -1}});
  EXPECT_EQ(make_op(op->type(), op->attributes())->attributes(), op->attributes());
  EXPECT_EQ(op->attributes()["dim"].get<int64_t>(), -1);
  EXPECT_EQ(make_op("Softmax", {})->attributes()["dim"].get<int64_t>(), 1);
}

TEST(Softmax, OutOfRangeDimIsRejected) {
  try {
    make_op("Softmax", {{"dim", 2}})->output_shape({{4, 10}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::BadInput);
    EXPECT_NE(std::string(e.what()).find("Softmax: dim 2 is out of range for rank 2 (input [4, 10])"),
              std::string::npos)
        << e.what();
  }
}

// Like LogSoftmax: normalising across the batch would make a sample's result depend on the
// other samples of its batch, so dim 0 (or a negative dim that reaches it) is refused.
TEST(Softmax, BatchAxisIsRejectedLikeLogSoftmax) {
  for (const char* type : {"Softmax", "LogSoftmax"})
    for (int dim : {0, -2}) {
      try {
        make_op(type, {{"dim", dim}})->output_shape({{4, 10}});
        ADD_FAILURE() << type << " accepted dim " << dim;
      } catch (const Error& e) {
        EXPECT_EQ(e.kind(), Error::Kind::BadInput);
        EXPECT_NE(std::string(e.what()).find("is the batch axis of input [4, 10]"),
                  std::string::npos)
            << e.what();
      }
    }
}

}  // namespace
}  // namespace shrink
