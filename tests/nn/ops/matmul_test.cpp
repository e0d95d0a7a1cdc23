// MatMul: x times a [K, M] weight parameter (ONNX layout), and batched products of two inputs.
#include "nn/ops/op_testing.hpp"

namespace shrink {
namespace {

using testing::expect_gradients_match;

using testing::error_message;
using testing::expect_values;
using testing::make_parameter;
using testing::random_tensor;
using testing::run_op;
using Json = nlohmann::json;

TEST(MatMul, WeightFormHandComputed) {
  auto op = make_op("MatMul", {{"in_features", 3}, {"out_features", 2}});
  const Tensor x({2, 3}, {1, 2, 3, 4, 5, 6});
  // W [3, 2] row-major: column 0 = (1, 0, -1), column 1 = (2, 1, 0).
  Parameter w = make_parameter("mm.weight", Tensor({3, 2}, {1, 2, 0, 1, -1, 0}), true);
  expect_values(run_op(*op, {x}, {&w}), {2, 2}, {-2, 4, -2, 13});
  EXPECT_EQ(op->macs({{2, 3}}), 2 * 3 * 2);
  EXPECT_EQ(op->macs({{1, 5, 3}}), 5 * 3 * 2);  // every leading row counts
  const auto specs = op->parameter_specs({{1, 3}});
  ASSERT_EQ(specs.size(), 1u);
  EXPECT_EQ(specs[0].suffix, "weight");
  EXPECT_EQ(specs[0].shape, (Shape{3, 2}));
  EXPECT_EQ(specs[0].fan_in, 3);
}

TEST(MatMul, WeightFormOnHigherRankInput) {
  auto op = make_op("MatMul", {{"in_features", 2}, {"out_features", 1}});
  const Tensor x({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  Parameter w = make_parameter("mm.weight", Tensor({2, 1}, {1, 10}), true);
  expect_values(run_op(*op, {x}, {&w}), {2, 2, 1}, {21, 43, 65, 87});
}

TEST(MatMul, LargeWeightProductMatchesNaiveLoop) {
  const int64_t rows = 300, k = 70, m = 50;
  auto op = make_op("MatMul", {{"in_features", k}, {"out_features", m}});
  const Tensor x = random_tensor({rows, k}, 1);
  Parameter w = make_parameter("mm.weight", random_tensor({k, m}, 2), true);
  const Tensor y = run_op(*op, {x}, {&w});
  for (int64_t r = 0; r < rows; r += 37)
    for (int64_t j = 0; j < m; ++j) {
      double sum = 0.0;
      for (int64_t i = 0; i < k; ++i) sum += static_cast<double>(x[r * k + i]) * w.value[i * m + j];
      ASSERT_NEAR(y[r * m + j], sum, 1e-4) << r << "," << j;
    }
}

TEST(MatMul, TwoInputFormHandComputed) {
  auto op = make_op("MatMul", Json::object());
  EXPECT_EQ(op->arity(), 2);
  // [2, 1, 2] x [2, 2, 2]: per sample a row vector times a 2x2 matrix.
  const Tensor a({2, 1, 2}, {1, 2, 3, 4});
  const Tensor b({2, 2, 2}, {1, 0, 0, 1, 1, 2, 3, 4});
  expect_values(run_op(*op, {a, b}), {2, 1, 2}, {1, 2, 15, 22});
  EXPECT_EQ(op->macs({{2, 1, 2}, {2, 2, 2}}), 2 * 1 * 2 * 2);
}

TEST(MatMul, Gradients) {
  {
    auto op = make_op("MatMul", {{"in_features", 4}, {"out_features", 3}});
    std::vector<Parameter> params = {make_parameter("mm.weight", random_tensor({4, 3}, 3), true)};
    expect_gradients_match(*op, {random_tensor({2, 5, 4}, 4)}, params, 5e-3, "weight");
  }
  {
    auto op = make_op("MatMul", Json::object());
    expect_gradients_match(*op, {random_tensor({2, 3, 3, 4}, 5), random_tensor({2, 3, 4, 2}, 6)},
                           {}, 5e-3, "two inputs");
  }
}

TEST(MatMul, AttributesRoundTrip) {
  testing::expect_round_trip("MatMul", Json::object());
  testing::expect_round_trip("MatMul", {{"in_features", 8}, {"out_features", 4}});
  EXPECT_EQ(make_op("MatMul", {{"in_features", 8}, {"out_features", 4}})->attributes(),
            (Json{{"in_features", 8}, {"out_features", 4}}));
}

TEST(MatMul, BadInputsNameTheOpAndShapes) {
  std::string m = error_message([] {
    make_op("MatMul", {{"in_features", 8}, {"out_features", 4}})->output_shape({{2, 7}});
  });
  EXPECT_NE(m.find("MatMul"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 7]"), std::string::npos) << m;
  EXPECT_NE(m.find("[8, 4]"), std::string::npos) << m;

  m = error_message([] { make_op("MatMul", Json::object())->output_shape({{2, 3, 4}, {2, 5, 2}}); });
  EXPECT_NE(m.find("inner dimensions"), std::string::npos) << m;

  m = error_message([] { make_op("MatMul", Json::object())->output_shape({{2, 3, 4}, {1, 4, 2}}); });
  EXPECT_NE(m.find("same leading dims"), std::string::npos) << m;

  m = error_message([] { make_op("MatMul", Json::object())->output_shape({{2, 4}, {2, 4}}); });
  EXPECT_NE(m.find("mix samples"), std::string::npos) << m;

  m = error_message([] { make_op("MatMul", {{"out_features", 4}}); });
  EXPECT_NE(m.find("in_features"), std::string::npos) << m;
}

}  // namespace
}  // namespace shrink
