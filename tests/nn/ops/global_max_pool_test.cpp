// GlobalMaxPool: [N, C, H, W] -> [N, C, 1, 1], gradient routed to each plane's maximum.
#include "nn/ops/op_testing.hpp"

namespace shrink {
namespace {

using testing::expect_gradients_match;

using testing::error_message;
using testing::expect_values;
using testing::run_op;
using Json = nlohmann::json;

TEST(GlobalMaxPool, ForwardAndBackwardHandComputed) {
  auto op = make_op("GlobalMaxPool", Json::object());
  const Tensor x({1, 2, 2, 2}, {1, 5, -2, 3, -7, -1, -4, -3});
  const Tensor y = run_op(*op, {x});
  expect_values(y, {1, 2, 1, 1}, {5, -1});

  OpArgs args;
  args.inputs = {&x};
  Tensor gx;
  op->backward(args, y, Tensor({1, 2, 1, 1}, {10, 20}), {&gx});
  expect_values(gx, {1, 2, 2, 2}, {0, 10, 0, 0, 0, 20, 0, 0});
}

TEST(GlobalMaxPool, OtherSpatialRanks) {
  auto op = make_op("GlobalMaxPool", Json::object());
  EXPECT_EQ(op->output_shape({{4, 3, 7}}), (Shape{4, 3, 1}));
  EXPECT_EQ(op->output_shape({{4, 3, 2, 5, 6}}), (Shape{4, 3, 1, 1, 1}));
  expect_values(run_op(*op, {Tensor({1, 1, 3}, {2, 9, 4})}), {1, 1, 1}, {9});
}

TEST(GlobalMaxPool, Gradient) {
  // Distinct values far apart (spacing 0.1 > the 1e-2 perturbation) keep the argmax fixed.
  Tensor x({2, 3, 3, 4});
  Rng rng(3);
  std::vector<int64_t> order(static_cast<size_t>(x.numel()));
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  rng.shuffle(order);
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = 0.1f * static_cast<float>(order[static_cast<size_t>(i)]) - 3.0f;
  auto op = make_op("GlobalMaxPool", Json::object());
  expect_gradients_match(*op, {x}, {}, 5e-3);
}

TEST(GlobalMaxPool, AttributesAndBadInputs) {
  testing::expect_round_trip("GlobalMaxPool", Json::object());
  std::string m = error_message([] { make_op("GlobalMaxPool", Json::object())->output_shape({{2, 8}}); });
  EXPECT_NE(m.find("GlobalMaxPool"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 8]"), std::string::npos) << m;
  m = error_message([] { make_op("GlobalMaxPool", {{"kernel_size", 2}}); });
  EXPECT_NE(m.find("unknown attribute"), std::string::npos) << m;
}

}  // namespace
}  // namespace shrink
