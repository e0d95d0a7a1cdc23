#include "shrink/core/error.hpp"
#include "shrink/nn/gradient_check.hpp"
#include "shrink/nn/op.hpp"

#include "op_testing.hpp"

#include <gtest/gtest.h>

#include <string>

namespace shrink::testing {
namespace {

TEST(GlobalAvgPoolTest, ForwardAveragesEachPlaneAndKeepsUnitAxes) {
  auto op = make_op("GlobalAvgPool", nlohmann::json::object());
  const Tensor x = random_tensor({3, 4, 5, 7}, 1);
  OpArgs args;
  args.inputs = {&x};
  Tensor y(op->output_shape({x.shape()}));
  EXPECT_EQ(y.shape(), (Shape{3, 4, 1, 1}));
  op->forward(args, y);
  for (int64_t p = 0; p < 12; ++p) {
    double sum = 0.0;
    for (int64_t i = 0; i < 35; ++i) sum += x[p * 35 + i];
    EXPECT_NEAR(y[p], sum / 35.0, 1e-6);
  }
  const Tensor hand({1, 2, 1, 2}, {1, 2, 3, 5});
  args.inputs = {&hand};
  Tensor z(op->output_shape({hand.shape()}));
  op->forward(args, z);
  EXPECT_EQ(z, Tensor({1, 2, 1, 1}, {1.5f, 4.0f}));
  EXPECT_EQ(op->macs({{3, 4, 5, 7}}), 3 * 4 * 5 * 7);
}

TEST(GlobalAvgPoolTest, GradientsMatchFiniteDifferences) {
  auto op = make_op("GlobalAvgPool", nlohmann::json::object());
  expect_gradients_match(*op, {random_tensor({2, 3, 4, 5}, 2)}, {}, 1e-2);
}

TEST(GlobalAvgPoolTest, AttributesRoundTrip) {
  auto op = make_op("GlobalAvgPool", nlohmann::json::object());
  EXPECT_EQ(op->attributes(), nlohmann::json::object());
  EXPECT_EQ(make_op("GlobalAvgPool", op->attributes())->type(), "GlobalAvgPool");
}

TEST(GlobalAvgPoolTest, BadInputsNameTheOpAndTheCulprit) {
  auto op = make_op("GlobalAvgPool", nlohmann::json::object());
  try {
    op->output_shape({{2, 8}});
    FAIL() << "no error thrown";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::BadInput);
    EXPECT_NE(std::string(e.what()).find("GlobalAvgPool"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[2, 8]"), std::string::npos) << e.what();
  }
  try {
    make_op("GlobalAvgPool", {{"keepdims", 0}});
    FAIL() << "no error thrown";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("keepdims"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace shrink::testing
