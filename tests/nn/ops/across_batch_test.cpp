// The ops that act along the batch axis 0 when "across_batch" allows it (ONNX graphs that
// concatenate, normalize, flatten or transpose across their axis 0): they compute on the whole
// tensor, size their own output (a Model sizes a node's output from the batch, which such an op
// changes), refuse axis 0 without the attribute, and refuse a training pass.
#include "shrink/core/error.hpp"
#include "shrink/nn/model.hpp"
#include "shrink/nn/op.hpp"

#include "op_testing.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace shrink::testing {
namespace {

using Json = nlohmann::json;

// One forward pass into an output the op must resize (as a Model's is: batch-first sized).
Tensor run_into_wrong_size(Op& op, const std::vector<Tensor>& inputs, bool training = false) {
  OpArgs args;
  for (const Tensor& t : inputs) args.inputs.push_back(&t);
  args.training = training;
  Tensor out({1});
  op.forward(args, out);
  return out;
}

TEST(AcrossBatchTest, ConcatJoinsAlongAxisZero) {
  auto op = make_op("Concat", {{"axis", 0}, {"across_batch", true}});
  const Tensor a({2, 2}, {1, 2, 3, 4});
  const Tensor b({1, 2}, {5, 6});
  EXPECT_EQ(op->output_shape({a.shape(), b.shape()}), (Shape{3, 2}));
  expect_values(run_into_wrong_size(*op, {a, b}), {3, 2}, {1, 2, 3, 4, 5, 6});
}

TEST(AcrossBatchTest, SoftmaxAndLogSoftmaxNormalizeOverAxisZero) {
  const Tensor x({2, 3}, {0, 1, 2, 3, 1, -1});
  auto softmax = make_op("Softmax", {{"dim", 0}, {"across_batch", true}});
  auto log_softmax = make_op("LogSoftmax", {{"dim", 0}, {"across_batch", true}});
  const Tensor y = run_into_wrong_size(*softmax, {x});
  const Tensor z = run_into_wrong_size(*log_softmax, {x});
  ASSERT_EQ(y.shape(), x.shape());
  ASSERT_EQ(z.shape(), x.shape());
  for (int64_t j = 0; j < 3; ++j) {
    const double sum = std::exp(x[j]) + std::exp(x[3 + j]);
    for (int64_t i = 0; i < 2; ++i) {
      EXPECT_NEAR(y[i * 3 + j], std::exp(x[i * 3 + j]) / sum, 1e-6);
      EXPECT_NEAR(z[i * 3 + j], x[i * 3 + j] - std::log(sum), 1e-6);
    }
  }
}

TEST(AcrossBatchTest, TransposeMovesTheBatchAxis) {
  auto op = make_op("Transpose", {{"perm", {2, 0, 1}}, {"across_batch", true}});
  Tensor x({2, 3, 4});
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = static_cast<float>(i);
  const Tensor y = run_into_wrong_size(*op, {x});
  ASSERT_EQ(y.shape(), (Shape{4, 2, 3}));
  for (int64_t a = 0; a < 4; ++a)
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t c = 0; c < 3; ++c)
        EXPECT_EQ(y[(a * 2 + b) * 3 + c], x[(b * 3 + c) * 4 + a]) << a << b << c;
}

TEST(AcrossBatchTest, ReshapeMergesTheBatchAxis) {
  Tensor x({2, 3, 4});
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = static_cast<float>(i);
  auto rows = make_op("Reshape", {{"shape", {-1, 4}}, {"across_batch", true}});
  auto one_row = make_op("Reshape", {{"shape", {1, -1}}, {"across_batch", true}});
  const Tensor y = run_into_wrong_size(*rows, {x});
  EXPECT_EQ(y.shape(), (Shape{6, 4}));
  EXPECT_EQ(run_into_wrong_size(*one_row, {x}).shape(), (Shape{1, 24}));
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(y[i], x[i]);
}

TEST(AcrossBatchTest, AxisZeroNeedsTheAttributeAndItRoundTrips) {
  const Shape x{2, 3, 4};
  EXPECT_NE(bad_input_message([&] { make_op("Concat", {{"axis", 0}})->output_shape({x, x}); })
                .find("batch axis"),
            std::string::npos);
  EXPECT_NE(bad_input_message([&] { make_op("Softmax", {{"dim", 0}})->output_shape({x}); })
                .find("batch axis"),
            std::string::npos);
  EXPECT_NE(bad_input_message([&] { make_op("LogSoftmax", {{"dim", 0}})->output_shape({x}); })
                .find("batch axis"),
            std::string::npos);
  EXPECT_NE(bad_input_message([&] {
              make_op("Transpose", {{"perm", {1, 0, 2}}})->output_shape({x});
            }).find("batch axis"),
            std::string::npos);
  EXPECT_NE(bad_input_message([&] {
              make_op("Reshape", {{"shape", {-1, 4}}})->output_shape({x});
            }).find("batch axis"),
            std::string::npos);
  EXPECT_NE(bad_input_message([&] { make_op("Concat", {{"axis", 0}, {"across_batch", 1}}); })
                .find("across_batch"),
            std::string::npos);
  expect_round_trip("Concat", {{"axis", 0}, {"across_batch", true}});
  expect_round_trip("Softmax", {{"dim", 0}, {"across_batch", true}});
  expect_round_trip("LogSoftmax", {{"dim", 0}, {"across_batch", true}});
  expect_round_trip("Transpose", {{"perm", {1, 0}}, {"across_batch", true}});
  expect_round_trip("Reshape", {{"shape", {1, -1}}, {"across_batch", true}});
  // Without the attribute the attributes are what they always were.
  EXPECT_EQ(make_op("Softmax", {{"dim", 1}})->attributes(), (Json{{"dim", 1}}));
  EXPECT_EQ(make_op("Softmax", {{"dim", 0}, {"across_batch", true}})->attributes(),
            (Json{{"dim", 0}, {"across_batch", true}}));
}

TEST(AcrossBatchTest, TrainingIsRefusedWithTheReason) {
  const Tensor x({2, 3}, {0, 1, 2, 3, 4, 5});
  for (const auto& [type, attributes] :
       std::vector<std::pair<std::string, Json>>{{"Softmax", {{"dim", 0}}},
                                                 {"LogSoftmax", {{"dim", 0}}},
                                                 {"Transpose", {{"perm", {1, 0}}}},
                                                 {"Reshape", {{"shape", {1, -1}}}},
                                                 {"Concat", {{"axis", 0}}}}) {
    Json with = attributes;
    with["across_batch"] = true;
    auto op = make_op(type, with);
    const std::string m = bad_input_message([&] { run_into_wrong_size(*op, {x}, true); });
    EXPECT_NE(m.find("inference only"), std::string::npos) << type << ": " << m;
    EXPECT_NE(m.find(type), std::string::npos) << m;
  }
  // The same through a Model: running works, a training pass does not.
  Model model = Model::from_graph_json(Json::parse(R"({
    "input": {"name": "x", "shape": [3]},
    "nodes": [{"name": "norm", "type": "Softmax", "attributes": {"dim": 0, "across_batch": true}}]
  })"));
  const Tensor& y = model.forward(x);
  EXPECT_NEAR(y[0], std::exp(0.0) / (std::exp(0.0) + std::exp(3.0)), 1e-6);
  EXPECT_NE(bad_input_message([&] { model.forward(x, true); }).find("inference only"),
            std::string::npos);
}

}  // namespace
}  // namespace shrink::testing
