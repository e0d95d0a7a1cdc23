// Mul, Sub, Div, BroadcastAdd: numpy broadcasting in the dynamic and the constant form.
#include "nn/ops/op_testing.hpp"

#include "shrink/nn/model.hpp"

#include <array>

namespace shrink {
namespace {

using testing::expect_gradients_match;

using testing::error_message;
using testing::expect_values;
using testing::make_parameter;
using testing::random_tensor;
using testing::run_op;
using Json = nlohmann::json;

const std::array<const char*, 4> kTypes = {"Mul", "Sub", "Div", "BroadcastAdd"};

float apply(const std::string& type, float a, float b) {
  if (type == "Mul") return a * b;
  if (type == "Sub") return a - b;
  if (type == "Div") return a / b;
  return a + b;
}

// Slow, obvious reference: for every output index, the operand indices by numpy's rule.
Tensor reference(const std::string& type, const Tensor& a, const Tensor& b) {
  const size_t rank = std::max(a.rank(), b.rank());
  auto pad = [&](const Shape& s) {
    Shape p(rank - s.size(), 1);
    p.insert(p.end(), s.begin(), s.end());
    return p;
  };
  const Shape pa = pad(a.shape()), pb = pad(b.shape());
  Shape out(rank);
  for (size_t d = 0; d < rank; ++d) out[d] = std::max(pa[d], pb[d]);
  Tensor y(out);
  std::vector<int64_t> index(rank, 0);
  for (int64_t i = 0; i < y.numel(); ++i) {
    int64_t rest = i;
    for (size_t d = rank; d-- > 0;) {
      index[d] = rest % out[d];
      rest /= out[d];
    }
    int64_t ia = 0, ib = 0;
    for (size_t d = 0; d < rank; ++d) {
      ia = ia * pa[d] + (pa[d] == 1 ? 0 : index[d]);
      ib = ib * pb[d] + (pb[d] == 1 ? 0 : index[d]);
    }
    y[i] = apply(type, a[ia], b[ib]);
  }
  return y;
}

Json constant_form(const Shape& shape, bool first, bool trainable = false) {
  return {{"constant_shape", shape}, {"constant_first", first}, {"trainable", trainable}};
}

TEST(BroadcastBinary, HandComputedValues) {
  const Tensor x({1, 2, 1, 2}, {1, 2, 3, 4});

  // [N, C, H, W] times a per-channel [C, 1, 1] constant.
  auto mul = make_op("Mul", constant_form({2, 1, 1}, false));
  Parameter scale = make_parameter("m.constant", Tensor({2, 1, 1}, {10, 100}), false);
  expect_values(run_op(*mul, {x}, {&scale}), {1, 2, 1, 2}, {10, 20, 300, 400});

  // Constant [1] on the left: 5 - x.
  auto sub = make_op("Sub", constant_form({1}, true));
  Parameter five = make_parameter("s.constant", Tensor({1}, {5}), false);
  expect_values(run_op(*sub, {x}, {&five}), {1, 2, 1, 2}, {4, 3, 2, 1});

  // Constant [W] on the left: [12, 8] / x.
  auto div = make_op("Div", constant_form({2}, true));
  Parameter numerators = make_parameter("d.constant", Tensor({2}, {12, 8}), false);
  expect_values(run_op(*div, {x}, {&numerators}), {1, 2, 1, 2}, {12, 4, 4, 2});

  // Constant on the right: x / [2, 4].
  auto div_right = make_op("Div", constant_form({2}, false));
  Parameter denominators = make_parameter("d.constant", Tensor({2}, {2, 4}), false);
  expect_values(run_op(*div_right, {x}, {&denominators}), {1, 2, 1, 2}, {0.5f, 0.5f, 1.5f, 1});

  // Scalar constant [] on the right: x - 1.
  auto sub_scalar = make_op("Sub", constant_form({}, false));
  Parameter one = make_parameter("s.constant", Tensor(Shape{}, {1}), false);
  expect_values(run_op(*sub_scalar, {x}, {&one}), {1, 2, 1, 2}, {0, 1, 2, 3});

  // Two dynamic inputs broadcasting each other: [2, 1, 3] + [2, 2, 1] -> [2, 2, 3].
  auto add = make_op("BroadcastAdd", Json::object());
  const Tensor a({2, 1, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor b({2, 2, 1}, {10, 20, 30, 40});
  expect_values(run_op(*add, {a, b}), {2, 2, 3},
                {11, 12, 13, 21, 22, 23, 34, 35, 36, 44, 45, 46});
  auto sub_dynamic = make_op("Sub", Json::object());
  expect_values(run_op(*sub_dynamic, {b, a}), {2, 2, 3},
                {9, 8, 7, 19, 18, 17, 26, 25, 24, 36, 35, 34});
}

TEST(BroadcastBinary, MatchesReferenceOnEdgeCases) {
  struct Case {
    Shape x, constant;
  };
  const std::vector<Case> constant_cases = {
      {{2, 3, 4, 5}, {3, 1, 1}},  // per channel
      {{2, 3, 4, 5}, {1}},        // scalar-like
      {{2, 3, 4, 5}, {5}},        // last axis
      {{2, 3, 4, 5}, {1, 3, 1, 5}},
      {{2, 3, 4, 5}, {4, 1}},
      {{2, 3, 4, 5}, {3, 4, 5}},  // full sample
      {{2, 1, 1, 5}, {3, 1, 5}},  // the constant broadcasts the input too
      {{3, 7}, {}},
  };
  uint64_t seed = 1;
  for (const char* type : kTypes) {
    for (const Case& c : constant_cases) {
      for (bool first : {false, true}) {
        const Tensor x = random_tensor(c.x, seed++, 0.5f, 2.0f);
        Parameter k = make_parameter("k.constant", random_tensor(c.constant, seed++, 0.5f, 2.0f),
                                     false);
        auto op = make_op(type, constant_form(c.constant, first));
        const Tensor got = run_op(*op, {x}, {&k});
        const Tensor want = first ? reference(type, k.value, x) : reference(type, x, k.value);
        ASSERT_EQ(got.shape(), want.shape()) << type << " " << to_string(c.constant);
        for (int64_t i = 0; i < got.numel(); ++i)
          ASSERT_NEAR(got[i], want[i], 1e-5f) << type << " " << to_string(c.constant) << " at " << i;
      }
    }
    const std::vector<std::pair<Shape, Shape>> dynamic_cases = {
        {{2, 3, 4, 5}, {2, 3, 1, 1}}, {{2, 3, 4, 5}, {2, 1, 4, 1}}, {{2, 1, 4, 1}, {2, 3, 1, 5}},
        {{2, 3, 4}, {2, 3, 4}},       {{3, 1}, {3, 6}},
    };
    for (const auto& [sa, sb] : dynamic_cases) {
      const Tensor a = random_tensor(sa, seed++, 0.5f, 2.0f);
      const Tensor b = random_tensor(sb, seed++, 0.5f, 2.0f);
      auto op = make_op(type, Json::object());
      const Tensor got = run_op(*op, {a, b});
      const Tensor want = reference(type, a, b);
      ASSERT_EQ(got.shape(), want.shape());
      for (int64_t i = 0; i < got.numel(); ++i) ASSERT_NEAR(got[i], want[i], 1e-5f) << type;
    }
  }
}

TEST(BroadcastBinary, LargeOutputTakesTheParallelPathCorrectly) {
  const Tensor x = random_tensor({4, 16, 40, 40}, 3, 0.5f, 2.0f);
  Parameter k = make_parameter("k.constant", random_tensor({16, 1, 1}, 4, 0.5f, 2.0f), false);
  auto op = make_op("Div", constant_form({16, 1, 1}, true));
  const Tensor got = run_op(*op, {x}, {&k});
  const Tensor want = reference("Div", k.value, x);
  for (int64_t i = 0; i < got.numel(); ++i) ASSERT_NEAR(got[i], want[i], 1e-5f);
}

TEST(BroadcastBinary, GradientsOfBothDynamicInputsReduceOverBroadcastAxes) {
  uint64_t seed = 11;
  for (const char* type : kTypes) {
    for (const auto& [sa, sb] : std::vector<std::pair<Shape, Shape>>{
             {{2, 3, 1, 4}, {2, 1, 3, 1}}, {{2, 3, 4}, {2, 3, 4}}, {{3, 1, 1}, {3, 2, 2}}}) {
      auto op = make_op(type, Json::object());
      expect_gradients_match(
          *op, {random_tensor(sa, seed++, 0.5f, 1.5f), random_tensor(sb, seed++, 0.5f, 1.5f)}, {},
          5e-3, std::string(type) + " " + to_string(sa) + " " + to_string(sb));
    }
  }
}

TEST(BroadcastBinary, GradientsOfInputAndTrainableConstant) {
  uint64_t seed = 31;
  for (const char* type : kTypes) {
    for (const auto& [sx, sc] : std::vector<std::pair<Shape, Shape>>{
             {{2, 3, 2, 2}, {3, 1, 1}}, {{2, 3, 2, 2}, {1}}, {{2, 3, 2, 2}, {2}},
             {{2, 1, 1, 2}, {3, 1, 2}}, {{2, 4}, {}}}) {
      for (bool first : {false, true}) {
        auto op = make_op(type, constant_form(sc, first, true));
        std::vector<Parameter> params = {
            make_parameter("k.constant", random_tensor(sc, seed++, 0.5f, 1.5f), true)};
        expect_gradients_match(*op, {random_tensor(sx, seed++, 0.5f, 1.5f)}, params, 5e-3,
                               std::string(type) + " constant " + to_string(sc) +
                                   (first ? " first" : ""));
      }
    }
  }
}

TEST(BroadcastBinary, FrozenConstantGetsNoGradientAndInputGradientIsOverwritten) {
  auto op = make_op("Mul", constant_form({3, 1, 1}, false));
  const Tensor x = random_tensor({2, 3, 2, 2}, 5);
  Parameter k = make_parameter("k.constant", Tensor({3, 1, 1}, {1, 2, 3}), false);
  OpArgs args;
  args.inputs = {&x};
  args.params = {&k};
  Tensor out(op->output_shape({x.shape()}));
  op->forward(args, out);
  Tensor grad_output(out.shape(), 1.0f);
  Tensor gx({7}, 99.0f);  // stale contents and the wrong shape must not survive
  op->backward(args, out, grad_output, {&gx});
  ASSERT_EQ(gx.shape(), x.shape());
  for (int64_t i = 0; i < gx.numel(); ++i) EXPECT_FLOAT_EQ(gx[i], 1.0f + static_cast<float>(i / 4 % 3));
  for (float g : k.grad) EXPECT_EQ(g, 0.0f);

  // A trainable constant accumulates: two backward passes give twice the sum.
  k.trainable = true;
  op->backward(args, out, grad_output, {nullptr});
  op->backward(args, out, grad_output, {nullptr});
  for (int64_t c = 0; c < 3; ++c) {
    float sum = 0.0f;
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t i = 0; i < 4; ++i) sum += x[n * 12 + c * 4 + i];
    EXPECT_NEAR(k.grad[c], 2.0f * sum, 1e-5f);
  }
}

TEST(BroadcastBinary, AttributesRoundTrip) {
  for (const char* type : kTypes) {
    testing::expect_round_trip(type, Json::object());
    testing::expect_round_trip(type, constant_form({3, 1, 1}, true, true));
    testing::expect_round_trip(type, constant_form({}, false, false));
    EXPECT_EQ(make_op(type, constant_form({4}, true, false))->attributes(),
              constant_form({4}, true, false));
    // Defaults: constant on the right, not trainable.
    EXPECT_EQ(make_op(type, {{"constant_shape", {4}}})->attributes(), constant_form({4}, false));
    EXPECT_EQ(make_op(type, Json::object())->arity(), 2);
    EXPECT_EQ(make_op(type, constant_form({4}, false))->arity(), 1);
  }
  const auto specs = make_op("Div", constant_form({3, 1, 1}, true, true))->parameter_specs({{2, 3, 4, 4}});
  ASSERT_EQ(specs.size(), 1u);
  EXPECT_EQ(specs[0].suffix, "constant");
  EXPECT_EQ(specs[0].shape, (Shape{3, 1, 1}));
  EXPECT_TRUE(specs[0].trainable);
  EXPECT_EQ(specs[0].init, Init::Ones);
}

TEST(BroadcastBinary, BadInputsNameTheOpAndShapes) {
  std::string m = error_message([] { make_op("Mul", Json::object())->output_shape({{2, 3, 4}, {2, 3, 5}}); });
  EXPECT_NE(m.find("Mul"), std::string::npos) << m;
  EXPECT_NE(m.find("cannot broadcast"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 3, 4]"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 3, 5]"), std::string::npos) << m;

  m = error_message([] { make_op("Div", constant_form({3}, true))->output_shape({{2, 3, 4}}); });
  EXPECT_NE(m.find("Div"), std::string::npos) << m;
  EXPECT_NE(m.find("[3]"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 3, 4]"), std::string::npos) << m;

  // Different ranks of two batch-first inputs would misalign the batch axis.
  m = error_message([] { make_op("Sub", Json::object())->output_shape({{2, 3, 4}, {2, 4}}); });
  EXPECT_NE(m.find("Sub"), std::string::npos) << m;
  EXPECT_NE(m.find("different ranks"), std::string::npos) << m;

  // A constant spanning the batch axis.
  m = error_message([] { make_op("BroadcastAdd", constant_form({3, 4, 5}, false))->output_shape({{2, 4, 5}}); });
  EXPECT_NE(m.find("BroadcastAdd"), std::string::npos) << m;
  EXPECT_NE(m.find("batch axis"), std::string::npos) << m;

  m = error_message([] { make_op("Mul", {{"constant", {3}}}); });
  EXPECT_NE(m.find("unknown attribute 'constant'"), std::string::npos) << m;
  m = error_message([] { make_op("Mul", {{"constant_first", true}}); });
  EXPECT_NE(m.find("constant_shape"), std::string::npos) << m;
  m = error_message([] { make_op("Mul", {{"constant_shape", {3, 0}}}); });
  EXPECT_NE(m.find("non-positive"), std::string::npos) << m;
}

TEST(BroadcastBinary, InAModelTheConstantIsAFrozenParameterAndTheBatchSizeIsFree) {
  Model model;
  model.set_input("x", {3, 2, 2});
  model.add_node("scale", make_op("Mul", {{"constant_shape", {3, 1, 1}}}));
  model.add_node("shift", make_op("Sub", constant_form({1}, true)));
  EXPECT_FALSE(model.parameter("scale.constant").trainable);
  EXPECT_EQ(model.parameter_count(), 0);
  model.parameter("scale.constant").value = Tensor({3, 1, 1}, {1, 2, 3});
  model.parameter("shift.constant").value = Tensor({1}, {10});
  const Tensor x = random_tensor({5, 3, 2, 2}, 9);
  const Tensor& y = model.forward(x);
  ASSERT_EQ(y.shape(), (Shape{5, 3, 2, 2}));
  for (int64_t i = 0; i < y.numel(); ++i)
    EXPECT_NEAR(y[i], 10.0f - x[i] * static_cast<float>(1 + i / 4 % 3), 1e-5f);
}

}  // namespace
}  // namespace shrink
