// QuantizeLinear and DequantizeLinear: ONNX's rounding (half to even), saturation at the uint8
// and int8 limits, zero points at the ends of their range, the straight-through gradient of the
// rounding (zero where the code saturated) and DequantizeLinear's exact gradient.
#include "nn/ops/op_testing.hpp"

#include <gtest/gtest.h>

namespace shrink::testing {
namespace {

using Json = nlohmann::json;

Tensor backward(Op& op, const Tensor& x, const Tensor& dy) {
  OpArgs args;
  args.inputs = {&x};
  Tensor y(op.output_shape({x.shape()}));
  op.forward(args, y);
  Tensor dx({3}, 99.0f);  // wrong shape on purpose: backward resizes and overwrites
  op.backward(args, y, dy, {&dx});
  op.backward(args, y, dy, {nullptr});  // no gradient wanted: no crash
  return dx;
}

TEST(QuantizeLinear, RoundsHalfToEvenBeforeAddingTheZeroPoint) {
  auto op = make_op("QuantizeLinear", {{"scale", 0.5}, {"zero_point", 10}});
  // x / scale = 0.5, 1.5, 2.5, -0.5, -1.5, 3.4, -3.6: ties go to the even neighbour.
  const Tensor x({1, 7}, {0.25f, 0.75f, 1.25f, -0.25f, -0.75f, 1.7f, -1.8f});
  EXPECT_EQ(run_forward(*op, x), Tensor({1, 7}, {10.0f, 12.0f, 12.0f, 10.0f, 8.0f, 13.0f, 6.0f}));
}

TEST(QuantizeLinear, SaturatesAtTheTypeLimits) {
  const Tensor x({1, 5}, {-1e30f, -300.0f, 0.0f, 300.0f, 1e30f});
  auto u8 = make_op("QuantizeLinear", {{"scale", 1.0}, {"zero_point", 100}, {"type", "uint8"}});
  EXPECT_EQ(run_forward(*u8, x), Tensor({1, 5}, {0.0f, 0.0f, 100.0f, 255.0f, 255.0f}));
  auto s8 = make_op("QuantizeLinear", {{"scale", 1.0}, {"type", "int8"}});
  EXPECT_EQ(run_forward(*s8, x), Tensor({1, 5}, {-128.0f, -128.0f, 0.0f, 127.0f, 127.0f}));
  // The type defaults to uint8, the zero point to 0, as in ONNX.
  auto plain = make_op("QuantizeLinear", {{"scale", 2.0}});
  EXPECT_EQ(run_forward(*plain, Tensor({1, 4}, {-3.0f, 3.0f, 509.0f, 511.0f})),
            Tensor({1, 4}, {0.0f, 2.0f, 254.0f, 255.0f}));
}

TEST(QuantizeLinear, ZeroPointsAtTheEndsOfTheRange) {
  const Tensor x({1, 4}, {-2.0f, -0.4f, 0.4f, 2.0f});
  // uint8 with zero point 0 keeps only non-negative values; with 255 only non-positive ones.
  auto low = make_op("QuantizeLinear", {{"scale", 0.01}, {"zero_point", 0}});
  EXPECT_EQ(run_forward(*low, x), Tensor({1, 4}, {0.0f, 0.0f, 40.0f, 200.0f}));
  auto high = make_op("QuantizeLinear", {{"scale", 0.01}, {"zero_point", 255}});
  EXPECT_EQ(run_forward(*high, x), Tensor({1, 4}, {55.0f, 215.0f, 255.0f, 255.0f}));
  auto s8_low = make_op("QuantizeLinear", {{"scale", 0.01}, {"zero_point", -128}, {"type", "int8"}});
  EXPECT_EQ(run_forward(*s8_low, x), Tensor({1, 4}, {-128.0f, -128.0f, -88.0f, 72.0f}));
  auto s8_high = make_op("QuantizeLinear", {{"scale", 0.01}, {"zero_point", 127}, {"type", "int8"}});
  EXPECT_EQ(run_forward(*s8_high, x), Tensor({1, 4}, {-73.0f, 87.0f, 127.0f, 127.0f}));
  for (const Json& bad : {Json{{"scale", 1.0}, {"zero_point", 256}},
                          Json{{"scale", 1.0}, {"zero_point", -1}},
                          Json{{"scale", 1.0}, {"zero_point", 128}, {"type", "int8"}},
                          Json{{"scale", 1.0}, {"zero_point", -129}, {"type", "int8"}}})
    EXPECT_NE(bad_input_message([&] { make_op("QuantizeLinear", bad); }).find("outside the"),
              std::string::npos)
        << bad.dump();
}

TEST(QuantizeLinear, BackwardIsStraightThroughInsideTheRangeAndZeroWhereItSaturates) {
  auto op = make_op("QuantizeLinear", {{"scale", 0.5}, {"zero_point", 2}});
  // Codes: -10 + 2 (saturates at 0), -2 + 2 = 0 (the lowest code, inside), -3 + 2 = -1
  // (saturates), 253 + 2 = 255 (inside), 254 + 2 (saturates).
  const Tensor x({1, 5}, {-5.0f, -1.0f, -1.5f, 126.5f, 127.0f});
  EXPECT_EQ(backward(*op, x, Tensor({1, 5}, 1.0f)), Tensor({1, 5}, {0.0f, 2.0f, 0.0f, 2.0f, 0.0f}));
}

TEST(DequantizeLinear, MapsCodesBackAndHasTheExactGradient) {
  auto op = make_op("DequantizeLinear", {{"scale", 0.25}, {"zero_point", -3}, {"type", "int8"}});
  expect_values(run_forward(*op, Tensor({1, 4}, {-128.0f, -3.0f, 0.0f, 127.0f})), {1, 4},
                {-31.25f, 0.0f, 0.75f, 32.5f});
  expect_gradients_match(*op, {random_tensor({2, 3, 4}, 1, -128.0f, 127.0f)}, {}, 1e-3,
                         "DequantizeLinear");
}

// The pair is fake quantization: inside the range, the finite difference of the pair over a
// step many codes wide matches the straight-through gradient (1), to within the one code the
// rounding may gain or lose; beyond the range both are zero.
TEST(QuantizeLinear, PairWithDequantizeMatchesFiniteDifferencesOverManyCodes) {
  const Json attributes = {{"scale", 0.02}, {"zero_point", 128}};
  auto q = make_op("QuantizeLinear", attributes);
  auto dq = make_op("DequantizeLinear", attributes);
  const auto fake = [&](float v) { return run_forward(*dq, run_forward(*q, Tensor({1, 1}, {v})))[0]; };
  const float step = 0.5f;  // 25 codes either side
  for (float v : {-1.5f, -0.31f, 0.0f, 0.77f, 1.6f, -3.5f, 4.0f}) {
    const double numeric = (fake(v + step) - fake(v - step)) / (2.0 * step);
    const Tensor dq_grad = backward(*dq, run_forward(*q, Tensor({1, 1}, {v})), Tensor({1, 1}, 1.0f));
    const double analytic = backward(*q, Tensor({1, 1}, {v}), dq_grad)[0];
    EXPECT_NEAR(analytic, numeric, 0.02 / (2.0 * step) + 1e-6) << "at " << v;
  }
}

TEST(LinearQuantization, AttributesRoundTripAndBadOnesAreNamed) {
  expect_round_trip("QuantizeLinear", {{"scale", 0.0123}, {"zero_point", 7}});
  expect_round_trip("DequantizeLinear", {{"scale", 3.5}, {"zero_point", -7}, {"type", "int8"}});
  const auto message = [](const Json& attributes) {
    return bad_input_message([&] { make_op("QuantizeLinear", attributes); });
  };
  EXPECT_NE(message(Json::object()).find("'scale' is required"), std::string::npos);
  EXPECT_NE(message({{"scale", 0.0}}).find("positive finite"), std::string::npos);
  EXPECT_NE(message({{"scale", -1.0}}).find("positive finite"), std::string::npos);
  EXPECT_NE(message({{"scale", 1e-45}}).find("positive finite"), std::string::npos);
  EXPECT_NE(message({{"scale", "big"}}).find("must be a number"), std::string::npos);
  EXPECT_NE(message({{"scale", 1.0}, {"type", "int4"}}).find("\"uint8\" or \"int8\""), std::string::npos);
  EXPECT_NE(message({{"scale", 1.0}, {"zero_point", 1.5}}).find("must be an integer"), std::string::npos);
  EXPECT_NE(message({{"scale", 1.0}, {"axis", 1}}).find("unknown attribute 'axis'"), std::string::npos);
  EXPECT_NE(bad_input_message([] { make_op("DequantizeLinear", {{"scale", 1.0}}).get()->output_shape({{}}); })
                .find("batch-first"),
            std::string::npos);
}

}  // namespace
}  // namespace shrink::testing
