// Clip, Hardsigmoid, Hardswish: the piecewise-linear activations of mobile networks.
#include "nn/ops/op_testing.hpp"

#include <cmath>

namespace shrink {
namespace {

using testing::expect_gradients_match;

using testing::error_message;
using testing::expect_values;
using testing::run_op;
using Json = nlohmann::json;

// Points kept 0.1 away from every kink, so central differences with epsilon 1e-2 are exact.
Tensor smooth_points() {
  return Tensor({2, 8}, {-5.1f, -3.3f, -2.7f, -1.2f, -0.4f, 0.3f, 1.1f, 2.2f,
                         2.9f, 3.3f, 4.4f, 5.7f, 6.2f, -0.6f, 0.55f, -4.1f});
}

TEST(Clip, ForwardRelu6OneSidedAndUnbounded) {
  const Tensor x({1, 5}, {-2, 0.5f, 3, 6.5f, 9});
  expect_values(run_op(*make_op("Clip", {{"min", 0}, {"max", 6}}), {x}), {1, 5}, {0, 0.5f, 3, 6, 6});
  expect_values(run_op(*make_op("Clip", {{"min", 1}}), {x}), {1, 5}, {1, 1, 3, 6.5f, 9});
  expect_values(run_op(*make_op("Clip", {{"max", 1}}), {x}), {1, 5}, {-2, 0.5f, 1, 1, 1});
  expect_values(run_op(*make_op("Clip", Json::object()), {x}), {1, 5}, {-2, 0.5f, 3, 6.5f, 9});
}

TEST(Clip, GradientPassesInsideTheRange) {
  auto op = make_op("Clip", {{"min", 0}, {"max", 6}});
  expect_gradients_match(*op, {smooth_points()}, {}, 5e-3);

  // At the bounds themselves the gradient passes (PyTorch's clamp).
  const Tensor x({1, 4}, {0, 6, -1, 7});
  OpArgs args;
  args.inputs = {&x};
  Tensor out = run_op(*op, {x});
  Tensor gx;
  op->backward(args, out, Tensor({1, 4}, 2.0f), {&gx});
  expect_values(gx, {1, 4}, {2, 2, 0, 0});
}

TEST(Hardsigmoid, OnnxDefaultsAndPyTorchParameters) {
  const Tensor x({1, 5}, {-4, -1, 0, 1, 4});
  // ONNX: alpha 0.2, beta 0.5 -> clip(0.2 x + 0.5, 0, 1).
  expect_values(run_op(*make_op("Hardsigmoid", Json::object()), {x}), {1, 5}, {0, 0.3f, 0.5f, 0.7f, 1});
  // PyTorch's nn.Hardsigmoid: alpha 1/6.
  expect_values(run_op(*make_op("Hardsigmoid", {{"alpha", 1.0 / 6.0}, {"beta", 0.5}}), {x}), {1, 5},
                {0, 1.0f / 3.0f, 0.5f, 2.0f / 3.0f, 1});
  EXPECT_EQ(make_op("Hardsigmoid", Json::object())->attributes(), (Json{{"alpha", 0.2}, {"beta", 0.5}}));
}

TEST(Hardsigmoid, Gradient) {
  for (const Json& attributes : {Json::object(), Json{{"alpha", 1.0 / 6.0}, {"beta", 0.5}}}) {
    auto op = make_op("Hardsigmoid", attributes);
    expect_gradients_match(*op, {smooth_points()}, {}, 5e-3, attributes.dump());
  }
}

TEST(Hardswish, ForwardMatchesDefinition) {
  const Tensor x({1, 6}, {-4, -3, -1, 0, 2, 5});
  auto op = make_op("Hardswish", Json::object());
  std::vector<float> expected;
  for (float v : x) expected.push_back(v * std::clamp(v / 6.0f + 0.5f, 0.0f, 1.0f));
  expect_values(run_op(*op, {x}), {1, 6}, expected);
  expect_values(run_op(*op, {x}), {1, 6}, {0, 0, -1.0f / 3.0f, 0, 5.0f / 3.0f, 5});
}

TEST(Hardswish, Gradient) {
  auto op = make_op("Hardswish", Json::object());
  expect_gradients_match(*op, {smooth_points()}, {}, 5e-3);
}

TEST(HardActivations, AttributesRoundTrip) {
  testing::expect_round_trip("Clip", {{"min", 0.0}, {"max", 6.0}});
  testing::expect_round_trip("Clip", {{"min", -1.5}});
  testing::expect_round_trip("Clip", Json::object());
  EXPECT_EQ(make_op("Clip", {{"max", 6.0}})->attributes(), (Json{{"max", 6.0}}));
  testing::expect_round_trip("Hardsigmoid", {{"alpha", 0.25}, {"beta", 0.4}});
  testing::expect_round_trip("Hardswish", Json::object());
}

TEST(HardActivations, BadInputsNameTheOp) {
  std::string m = error_message([] { make_op("Clip", {{"low", 0}}); });
  EXPECT_NE(m.find("Clip"), std::string::npos) << m;
  EXPECT_NE(m.find("'low'"), std::string::npos) << m;
  m = error_message([] { make_op("Hardswish", {{"alpha", 0.2}}); });
  EXPECT_NE(m.find("Hardswish"), std::string::npos) << m;
  m = error_message([] { make_op("Hardsigmoid", Json::object())->output_shape({{2, 3}, {2, 3}}); });
  EXPECT_NE(m.find("Hardsigmoid takes 1 input"), std::string::npos) << m;
}

}  // namespace
}  // namespace shrink
