// LogSoftmax: log of the softmax along "dim", stable for large logits.
#include "nn/ops/op_testing.hpp"

#include <cmath>

namespace shrink {
namespace {

using testing::expect_gradients_match;

using testing::error_message;
using testing::expect_values;
using testing::random_tensor;
using testing::run_op;
using Json = nlohmann::json;

TEST(LogSoftmax, HandComputedLastAxis) {
  auto op = make_op("LogSoftmax", Json::object());  // ONNX default: the last axis
  const float l = std::log(1.0f + std::exp(1.0f) + std::exp(2.0f));
  expect_values(run_op(*op, {Tensor({2, 3}, {0, 1, 2, 1000, 1001, 1002})}), {2, 3},
                {-l, 1 - l, 2 - l, -l, 1 - l, 2 - l}, 1e-4f);
}

TEST(LogSoftmax, ChannelAxisOfNCHW) {
  auto op = make_op("LogSoftmax", {{"dim", 1}});
  const Tensor x = random_tensor({2, 3, 2, 2}, 4, -3.0f, 3.0f);
  const Tensor y = run_op(*op, {x});
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t s = 0; s < 4; ++s) {
      double sum = 0.0;
      for (int64_t c = 0; c < 3; ++c) sum += std::exp(static_cast<double>(x[n * 12 + c * 4 + s]));
      for (int64_t c = 0; c < 3; ++c)
        EXPECT_NEAR(y[n * 12 + c * 4 + s], x[n * 12 + c * 4 + s] - std::log(sum), 1e-5);
    }
}

TEST(LogSoftmax, Gradient) {
  for (int64_t dim : {-1, 1, 2}) {
    auto op = make_op("LogSoftmax", {{"dim", dim}});
    expect_gradients_match(*op, {random_tensor({2, 3, 4}, 8, -2.0f, 2.0f)}, {}, 5e-3,
                           "dim " + std::to_string(dim));
  }
}

TEST(LogSoftmax, AttributesAndBadInputs) {
  testing::expect_round_trip("LogSoftmax", {{"dim", 1}});
  EXPECT_EQ(make_op("LogSoftmax", Json::object())->attributes(), (Json{{"dim", -1}}));
  std::string m = error_message([] { make_op("LogSoftmax", {{"dim", 0}})->output_shape({{4, 10}}); });
  EXPECT_NE(m.find("LogSoftmax"), std::string::npos) << m;
  EXPECT_NE(m.find("batch axis"), std::string::npos) << m;
  m = error_message([] { make_op("LogSoftmax", {{"dim", 3}})->output_shape({{4, 10}}); });
  EXPECT_NE(m.find("out of range"), std::string::npos) << m;
  EXPECT_NE(m.find("[4, 10]"), std::string::npos) << m;
}

}  // namespace
}  // namespace shrink
