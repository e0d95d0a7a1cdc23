// Reshape, Transpose, Squeeze, Unsqueeze, Concat, Identity: ONNX semantics with the batch axis
// pinned at position 0.
#include "nn/ops/op_testing.hpp"

#include "shrink/nn/model.hpp"

namespace shrink {
namespace {

using testing::expect_gradients_match;

using testing::error_message;
using testing::expect_values;
using testing::random_tensor;
using testing::run_op;
using Json = nlohmann::json;

Tensor iota(const Shape& shape) {
  Tensor t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<float>(i);
  return t;
}

void expect_gradient_ok(const std::string& type, const Json& attributes,
                        std::vector<Tensor> inputs) {
  auto op = make_op(type, attributes);
  expect_gradients_match(*op, inputs, {}, 5e-3, type + " " + attributes.dump());
}

// --- Reshape ------------------------------------------------------------------------------

TEST(Reshape, OnnxShapeRules) {
  auto shape_of = [](const Json& shape, const Shape& in, bool allow_zero = false) {
    return make_op("Reshape", {{"shape", shape}, {"allowzero", allow_zero}})->output_shape({in});
  };
  EXPECT_EQ(shape_of({0, -1}, {2, 3, 4}), (Shape{2, 12}));
  EXPECT_EQ(shape_of({0, 4, 3}, {2, 3, 4}), (Shape{2, 4, 3}));
  EXPECT_EQ(shape_of({-1, 12}, {2, 3, 4}), (Shape{2, 12}));
  EXPECT_EQ(shape_of({2, 2, -1}, {2, 3, 4}), (Shape{2, 2, 6}));
  EXPECT_EQ(shape_of({0, 0, 2, 2}, {2, 3, 4}), (Shape{2, 3, 2, 2}));
  EXPECT_EQ(shape_of({0, 1, -1, 1}, {2, 3, 4}), (Shape{2, 1, 12, 1}));

  const Tensor x = iota({2, 3, 2});
  auto op = make_op("Reshape", {{"shape", {0, -1}}});
  const Tensor y = run_op(*op, {x});
  ASSERT_EQ(y.shape(), (Shape{2, 6}));
  for (int64_t i = 0; i < y.numel(); ++i) EXPECT_EQ(y[i], x[i]);
}

TEST(Reshape, GradientAndRoundTrip) {
  expect_gradient_ok("Reshape", {{"shape", {0, 2, -1}}}, {random_tensor({2, 3, 4}, 1)});
  testing::expect_round_trip("Reshape", {{"shape", {0, -1}}});
  testing::expect_round_trip("Reshape", {{"shape", {0, 4, 3}}, {"allowzero", true}});
  EXPECT_EQ(make_op("Reshape", {{"shape", {0, -1}}, {"allowzero", 0}})->attributes(),
            (Json{{"shape", {0, -1}}, {"allowzero", false}}));
}

TEST(Reshape, BadShapesAreNamed) {
  auto message = [](const Json& attributes, const Shape& in) {
    return error_message([&] { make_op("Reshape", attributes)->output_shape({in}); });
  };
  std::string m = message({{"shape", {0, 5}}}, {2, 3, 4});
  EXPECT_NE(m.find("Reshape"), std::string::npos) << m;
  EXPECT_NE(m.find("size mismatch"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 3, 4]"), std::string::npos) << m;

  m = message({{"shape", {-1}}}, {2, 3, 4});  // merges the batch into one axis
  EXPECT_NE(m.find("batch axis"), std::string::npos) << m;
  m = message({{"shape", {4, -1}}}, {2, 3, 4});  // moves samples across the batch
  EXPECT_NE(m.find("batch axis"), std::string::npos) << m;
  m = message({{"shape", {0, -1, -1}}}, {2, 3, 4});
  EXPECT_NE(m.find("more than one -1"), std::string::npos) << m;
  m = message({{"shape", {0, 7, -1}}}, {2, 3, 4});
  EXPECT_NE(m.find("cannot fill the -1"), std::string::npos) << m;
  // With allowzero a 0 is a real zero-size dim, not a copy.
  m = message({{"shape", {0, 12}}, {"allowzero", true}}, {2, 3, 4});
  EXPECT_NE(m.find("size mismatch"), std::string::npos) << m;
  m = error_message([] { make_op("Reshape", Json::object()); });
  EXPECT_NE(m.find("needs the attribute 'shape'"), std::string::npos) << m;
}

TEST(Reshape, InAModelTheBuildTimeBatchOfOneRunsAnyBatch) {
  Model model;
  model.set_input("x", {2, 3});
  // ONNX exported with batch 1 writes the literal 1 at the batch position.
  model.add_node("flat", make_op("Reshape", {{"shape", {1, -1}}}));
  model.add_node("back", make_op("Reshape", {{"shape", {0, 3, 2}}}));
  EXPECT_EQ(model.node("flat").output_shape, (Shape{6}));
  const Tensor x = iota({4, 2, 3});
  const Tensor& y = model.forward(x);
  ASSERT_EQ(y.shape(), (Shape{4, 3, 2}));
  for (int64_t i = 0; i < y.numel(); ++i) EXPECT_EQ(y[i], x[i]);
}

// --- Transpose ----------------------------------------------------------------------------

TEST(Transpose, HandComputedAndNchwToNhwc) {
  auto op = make_op("Transpose", {{"perm", {0, 2, 1}}});
  const Tensor x = iota({2, 2, 3});
  expect_values(run_op(*op, {x}), {2, 3, 2}, {0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11});

  const Tensor image = random_tensor({2, 3, 4, 5}, 2);
  const Tensor nhwc = run_op(*make_op("Transpose", {{"perm", {0, 2, 3, -3}}}), {image});
  ASSERT_EQ(nhwc.shape(), (Shape{2, 4, 5, 3}));
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t h = 0; h < 4; ++h)
        for (int64_t w = 0; w < 5; ++w)
          ASSERT_EQ(nhwc[((n * 4 + h) * 5 + w) * 3 + c], image[((n * 3 + c) * 4 + h) * 5 + w]);
}

TEST(Transpose, GradientAndRoundTrip) {
  expect_gradient_ok("Transpose", {{"perm", {0, 3, 1, 2}}}, {random_tensor({2, 3, 2, 4}, 3)});
  expect_gradient_ok("Transpose", {{"perm", {0}}}, {random_tensor({5}, 4)});
  testing::expect_round_trip("Transpose", {{"perm", {0, 2, 1}}});
  testing::expect_round_trip("Transpose", Json::object());
}

TEST(Transpose, PermMovingTheBatchAxisIsRejected) {
  std::string m = error_message(
      [] { make_op("Transpose", {{"perm", {1, 0, 2}}})->output_shape({{2, 3, 4}}); });
  EXPECT_NE(m.find("Transpose"), std::string::npos) << m;
  EXPECT_NE(m.find("moves the batch axis"), std::string::npos) << m;
  EXPECT_NE(m.find("[1, 0, 2]"), std::string::npos) << m;
  // Without perm, ONNX reverses the axes: the batch axis moves too.
  m = error_message([] { make_op("Transpose", Json::object())->output_shape({{2, 3, 4}}); });
  EXPECT_NE(m.find("moves the batch axis"), std::string::npos) << m;
  m = error_message([] { make_op("Transpose", {{"perm", {0, 1}}})->output_shape({{2, 3, 4}}); });
  EXPECT_NE(m.find("rank 3"), std::string::npos) << m;
  m = error_message([] { make_op("Transpose", {{"perm", {0, 1, 1}}})->output_shape({{2, 3, 4}}); });
  EXPECT_NE(m.find("not a permutation"), std::string::npos) << m;
}

// --- Squeeze / Unsqueeze ------------------------------------------------------------------

TEST(SqueezeUnsqueeze, Shapes) {
  auto squeeze = [](const Json& attributes, const Shape& in) {
    return make_op("Squeeze", attributes)->output_shape({in});
  };
  EXPECT_EQ(squeeze({{"axes", {1}}}, {2, 1, 3, 1}), (Shape{2, 3, 1}));
  EXPECT_EQ(squeeze({{"axes", {-1, 1}}}, {2, 1, 3, 1}), (Shape{2, 3}));
  EXPECT_EQ(squeeze(Json::object(), {1, 1, 3, 1}), (Shape{1, 3}));  // never the batch
  auto unsqueeze = [](const Json& attributes, const Shape& in) {
    return make_op("Unsqueeze", attributes)->output_shape({in});
  };
  EXPECT_EQ(unsqueeze({{"axes", {1}}}, {2, 3}), (Shape{2, 1, 3}));
  EXPECT_EQ(unsqueeze({{"axes", {-1}}}, {2, 3}), (Shape{2, 3, 1}));
  EXPECT_EQ(unsqueeze({{"axes", {3, 1}}}, {2, 3}), (Shape{2, 1, 3, 1}));

  const Tensor x = iota({2, 3});
  const Tensor y = run_op(*make_op("Unsqueeze", {{"axes", {2, 3}}}), {x});
  ASSERT_EQ(y.shape(), (Shape{2, 3, 1, 1}));
  const Tensor z = run_op(*make_op("Squeeze", {{"axes", {2, 3}}}), {y});
  EXPECT_EQ(z, x);
}

TEST(SqueezeUnsqueeze, GradientAndRoundTrip) {
  expect_gradient_ok("Squeeze", {{"axes", {2}}}, {random_tensor({2, 3, 1}, 5)});
  expect_gradient_ok("Unsqueeze", {{"axes", {1}}}, {random_tensor({2, 3}, 6)});
  testing::expect_round_trip("Squeeze", {{"axes", {1, -1}}});
  testing::expect_round_trip("Squeeze", Json::object());
  testing::expect_round_trip("Unsqueeze", {{"axes", {2}}});
}

TEST(SqueezeUnsqueeze, BadAxesAreNamed) {
  std::string m =
      error_message([] { make_op("Squeeze", {{"axes", {0}}})->output_shape({{1, 3}}); });
  EXPECT_NE(m.find("Squeeze"), std::string::npos) << m;
  EXPECT_NE(m.find("batch axis"), std::string::npos) << m;
  m = error_message([] { make_op("Squeeze", {{"axes", {1}}})->output_shape({{2, 3}}); });
  EXPECT_NE(m.find("has size 3, not 1"), std::string::npos) << m;
  m = error_message([] { make_op("Squeeze", {{"axes", {4}}})->output_shape({{2, 3}}); });
  EXPECT_NE(m.find("out of range"), std::string::npos) << m;
  m = error_message([] { make_op("Unsqueeze", {{"axes", {0}}})->output_shape({{2, 3}}); });
  EXPECT_NE(m.find("Unsqueeze"), std::string::npos) << m;
  EXPECT_NE(m.find("batch axis"), std::string::npos) << m;
  m = error_message([] { make_op("Unsqueeze", {{"axes", {1, 1}}})->output_shape({{2, 3}}); });
  EXPECT_NE(m.find("twice"), std::string::npos) << m;
}

// --- Concat -------------------------------------------------------------------------------

TEST(Concat, HandComputed) {
  auto op = make_op("Concat", {{"axis", 1}});
  EXPECT_EQ(op->arity(), -1);
  const Tensor a({2, 1, 2}, {1, 2, 3, 4});
  const Tensor b({2, 2, 2}, {5, 6, 7, 8, 9, 10, 11, 12});
  expect_values(run_op(*op, {a, b}), {2, 3, 2}, {1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12});
  auto last = make_op("Concat", {{"axis", -1}});
  expect_values(run_op(*last, {Tensor({2, 1}, {1, 2}), Tensor({2, 2}, {3, 4, 5, 6})}), {2, 3},
                {1, 3, 4, 2, 5, 6});
}

TEST(Concat, GradientAndRoundTrip) {
  expect_gradient_ok("Concat", {{"axis", 2}},
                     {random_tensor({2, 3, 1, 2}, 7), random_tensor({2, 3, 4, 2}, 8),
                      random_tensor({2, 3, 2, 2}, 9)});
  testing::expect_round_trip("Concat", {{"axis", -2}});
}

TEST(Concat, BadInputsAreNamed) {
  std::string m = error_message(
      [] { make_op("Concat", {{"axis", 0}})->output_shape({{2, 3}, {2, 3}}); });
  EXPECT_NE(m.find("Concat"), std::string::npos) << m;
  EXPECT_NE(m.find("batch axis"), std::string::npos) << m;
  m = error_message([] { make_op("Concat", {{"axis", 1}})->output_shape({{2, 3, 4}, {2, 3, 5}}); });
  EXPECT_NE(m.find("[2, 3, 5]"), std::string::npos) << m;
  EXPECT_NE(m.find("does not match"), std::string::npos) << m;
  m = error_message([] { make_op("Concat", Json::object()); });
  EXPECT_NE(m.find("attribute 'axis' is required"), std::string::npos) << m;
}

// --- Identity -----------------------------------------------------------------------------

TEST(Identity, CopiesValuesAndGradients) {
  const Tensor x = random_tensor({3, 4}, 10);
  EXPECT_EQ(run_op(*make_op("Identity", Json::object()), {x}), x);
  expect_gradient_ok("Identity", Json::object(), {x});
  testing::expect_round_trip("Identity", Json::object());
  const std::string m = error_message([] { make_op("Identity", {{"axis", 1}}); });
  EXPECT_NE(m.find("Identity"), std::string::npos) << m;
}

}  // namespace
}  // namespace shrink
