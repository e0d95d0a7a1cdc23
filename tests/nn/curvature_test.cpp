// The second-order backward pass of Optimal Brain Damage: every op's rule against finite
// differences, the weights' curvature against true second derivatives where the Gauss–Newton
// diagonal is exact, and whole models (a chain and a residual block) against a hand-written
// recursion.
#include "shrink/nn/curvature.hpp"
#include "shrink/nn/loss.hpp"
#include "support/errors.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace shrink {
namespace {

using Json = nlohmann::json;

Tensor random_tensor(const Shape& shape, uint64_t seed, float low = -1.0f, float high = 1.0f) {
  Rng rng(seed);
  Tensor t(shape);
  for (float& v : t) v = rng.uniform(low, high);
  return t;
}

// Values in ±[low, high]: away from the kinks of ReLU-like ops at 0.
Tensor away_from_zero(const Shape& shape, uint64_t seed, float low = 0.1f, float high = 1.0f) {
  Rng rng(seed);
  Tensor t(shape);
  for (float& v : t) v = (rng.uniform(0.0f, 1.0f) < 0.5f ? -1.0f : 1.0f) * rng.uniform(low, high);
  return t;
}

std::vector<Parameter> parameters_for(const Op& op, const std::vector<Shape>& inputs,
                                      uint64_t seed) {
  std::vector<Parameter> params;
  for (const ParameterSpec& spec : op.parameter_specs(inputs)) {
    Parameter p;
    p.name = spec.suffix;
    // Positive running variances; everything else random.
    p.value = spec.suffix == "running_var" ? random_tensor(spec.shape, seed++, 0.5f, 2.0f)
                                           : random_tensor(spec.shape, seed++);
    p.trainable = spec.trainable;
    params.push_back(std::move(p));
  }
  return params;
}

struct OpCase {
  std::string type;
  Json attributes;
  std::vector<Tensor> inputs;
};

void expect_rule_matches_finite_differences(const OpCase& c) {
  auto op = make_op(c.type, c.attributes);
  std::vector<Shape> shapes;
  for (const auto& t : c.inputs) shapes.push_back(t.shape());
  const CurvatureCheckResult r =
      check_op_curvature(*op, c.inputs, parameters_for(*op, shapes, 11), 1e-2);
  EXPECT_LT(r.max_error, 2e-3) << c.type << " " << c.attributes.dump() << ": " << r.worst;
}

TEST(Curvature, ProductRulesMatchFiniteDifferences) {
  const Tensor image = random_tensor({2, 4, 5, 5}, 1);
  for (const OpCase& c : std::vector<OpCase>{
           {"Linear", {{"out_features", 3}}, {random_tensor({4, 5}, 1)}},
           {"Conv2d", {{"out_channels", 4}, {"kernel_size", 3}, {"padding", 1}, {"stride", 2}},
            {image}},
           {"Conv2d", {{"out_channels", 4}, {"kernel_size", 2}, {"groups", 2}, {"bias", false}},
            {image}},
           {"ConvTranspose2d", {{"out_channels", 2}, {"kernel_size", 3}, {"stride", 2}},
            {random_tensor({1, 3, 3, 3}, 2)}},
           {"MatMul", {{"in_features", 5}, {"out_features", 3}}, {random_tensor({2, 4, 5}, 3)}},
           {"MatMul", Json::object(), {random_tensor({2, 3, 4}, 4), random_tensor({2, 4, 2}, 5)}},
           {"Mul", Json::object(), {random_tensor({2, 3}, 6), random_tensor({2, 3}, 7)}},
           {"Div", Json::object(), {random_tensor({2, 3}, 8), away_from_zero({2, 3}, 9, 0.5f, 1.5f)}},
           {"Add", Json::object(), {random_tensor({2, 3}, 10), random_tensor({2, 3}, 11)}},
           {"Sub", Json::object(), {random_tensor({2, 3}, 12), random_tensor({2, 3}, 13)}},
           {"BroadcastAdd", Json::object(), {random_tensor({2, 3, 4}, 14), random_tensor({2, 1, 4}, 15)}},
           {"Mul", {{"constant_shape", {3, 1}}, {"constant_first", false}}, {random_tensor({2, 3, 2}, 16)}},
           {"Div", {{"constant_shape", {2}}, {"constant_first", true}},
            {away_from_zero({2, 3, 2}, 17, 0.5f, 1.5f)}},
       })
    expect_rule_matches_finite_differences(c);
}

// Distinct values at least `gap` apart, shuffled: no near-ties for max pooling to flip.
Tensor well_separated(const Shape& shape, uint64_t seed, float gap = 0.05f) {
  Tensor t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = gap * static_cast<float>(i - t.numel() / 2);
  Rng rng(seed);
  for (int64_t i = t.numel() - 1; i > 0; --i)
    std::swap(t[i], t[static_cast<int64_t>(rng.uniform(0.0f, 1.0f) * static_cast<float>(i + 1)) % (i + 1)]);
  return t;
}

TEST(Curvature, ElementwiseRoutingAndAveragingRulesMatchFiniteDifferences) {
  const Tensor x = away_from_zero({2, 3, 4, 4}, 20, 0.05f, 2.0f);
  const Tensor separated = well_separated({2, 3, 4, 4}, 27);
  for (const OpCase& c : std::vector<OpCase>{
           {"ReLU", Json::object(), {x}},
           {"LeakyReLU", {{"negative_slope", 0.1}}, {x}},
           {"Sigmoid", Json::object(), {x}},
           {"Tanh", Json::object(), {x}},
           {"Hardsigmoid", Json::object(), {x}},
           {"Hardswish", Json::object(), {x}},
           {"Clip", {{"min", -0.5}, {"max", 0.5}}, {away_from_zero({2, 6}, 21, 0.05f, 0.4f)}},
           {"Identity", Json::object(), {x}},
           {"Dropout", {{"p", 0.5}}, {x}},
           {"BatchNorm2d", Json::object(), {x}},
           {"BatchNorm1d", Json::object(), {random_tensor({3, 5}, 22)}},
           {"MaxPool2d", {{"kernel_size", 2}, {"stride", 2}}, {separated}},
           {"MaxPool2d", {{"kernel_size", 3}, {"stride", 1}, {"padding", 1}}, {separated}},
           {"GlobalMaxPool", Json::object(), {separated}},
           {"Flatten", Json::object(), {x}},
           {"Reshape", {{"shape", {0, -1}}}, {x}},
           {"Transpose", {{"perm", {0, 2, 1, 3}}}, {x}},
           {"Unsqueeze", {{"axes", {1}}}, {random_tensor({2, 3}, 23)}},
           {"Squeeze", {{"axes", {1}}}, {random_tensor({2, 1, 3}, 24)}},
           {"Concat", {{"axis", 1}}, {random_tensor({2, 3}, 25), random_tensor({2, 2}, 26)}},
           {"AvgPool2d", {{"kernel_size", 2}, {"stride", 2}}, {x}},
           {"AvgPool2d", {{"kernel_size", 3}, {"padding", 1}}, {x}},
           {"GlobalAvgPool", Json::object(), {x}},
       })
    expect_rule_matches_finite_differences(c);
}

// An op whose backward pass does not match its forward pass (here: forward doubled) gives a
// rule that is off by 4x, and the check must say so.
class DoubledLinear final : public Op {
 public:
  std::string type() const override { return "Linear"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override {
    return inner_->output_shape(inputs);
  }
  std::vector<ParameterSpec> parameter_specs(const std::vector<Shape>& inputs) const override {
    return inner_->parameter_specs(inputs);
  }
  void forward(const OpArgs& args, Tensor& output) override {
    inner_->forward(args, output);
    output.flat() *= 2.0f;
  }
  void backward(const OpArgs& args, const Tensor& output, const Tensor& grad_output,
                const std::vector<Tensor*>& grad_inputs) override {
    inner_->backward(args, output, grad_output, grad_inputs);
  }

 private:
  std::unique_ptr<Op> inner_ = make_op("Linear", {{"out_features", 3}});
};

TEST(Curvature, TheCheckCatchesARuleThatIsOffByAFactor) {
  DoubledLinear op;
  const CurvatureCheckResult r =
      check_op_curvature(op, {random_tensor({4, 5}, 1)}, parameters_for(op, {{4, 5}}, 3));
  EXPECT_GT(r.max_error, 0.5) << r.worst;
}

// For an op linear in its weights and inputs under L = ½ Σ c y², the Gauss–Newton diagonal is
// the true second derivative: compare it with second differences of L (exact for a quadratic).
TEST(Curvature, WeightCurvatureIsTheTrueSecondDerivativeOfAQuadraticLoss) {
  for (const OpCase& c : std::vector<OpCase>{
           {"Linear", {{"out_features", 3}}, {random_tensor({4, 5}, 30)}},
           {"Conv2d", {{"out_channels", 3}, {"kernel_size", 3}, {"padding", 1}},
            {random_tensor({2, 2, 4, 4}, 31)}}}) {
    auto op = make_op(c.type, c.attributes);
    std::vector<Parameter> params = parameters_for(*op, {c.inputs[0].shape()}, 32);
    const Shape out_shape = op->output_shape({c.inputs[0].shape()});
    const Tensor weights = random_tensor(out_shape, 33, 0.1f, 1.0f);
    OpArgs args;
    args.inputs = {&c.inputs[0]};
    for (auto& p : params) {
      p.grad = Tensor(p.value.shape());
      args.params.push_back(&p);
    }
    auto loss = [&] {
      Tensor out(out_shape);
      op->forward(args, out);
      double sum = 0.0;
      for (int64_t k = 0; k < out.numel(); ++k) sum += 0.5 * weights[k] * out[k] * out[k];
      return sum;
    };
    Tensor out(out_shape);
    op->forward(args, out);
    Tensor h(params[0].value.shape());
    curvature_backward(*op, args, out, weights, {nullptr}, {&h, nullptr});
    Tensor& w = params[0].value;
    const double epsilon = 0.5;  // a quadratic's second difference is exact at any step
    for (int64_t i = 0; i < w.numel(); ++i) {
      const float saved = w[i];
      const double centre = loss();
      w[i] = static_cast<float>(saved + epsilon);
      const double plus = loss();
      w[i] = static_cast<float>(saved - epsilon);
      const double minus = loss();
      w[i] = saved;
      const double second = (plus - 2.0 * centre + minus) / (epsilon * epsilon);
      EXPECT_NEAR(h[i], second, 1e-4 * std::max(1.0, std::abs(second))) << c.type << " weight " << i;
    }
  }
}

TEST(Curvature, CrossEntropyCurvatureIsTheDiagonalOfItsHessian) {
  const Tensor logits = random_tensor({3, 4}, 40, -2.0f, 2.0f);
  const std::vector<int32_t> labels{0, 3, 1};
  const Tensor h = cross_entropy_curvature(logits);
  Tensor z = logits;
  const double epsilon = 1e-2;
  for (int64_t i = 0; i < z.numel(); ++i) {
    const float saved = z[i];
    Tensor grad_plus, grad_minus;
    z[i] = static_cast<float>(saved + epsilon);
    cross_entropy(z, labels, 0.0f, &grad_plus);
    z[i] = static_cast<float>(saved - epsilon);
    cross_entropy(z, labels, 0.0f, &grad_minus);
    z[i] = saved;
    EXPECT_NEAR(h[i], (grad_plus[i] - grad_minus[i]) / (2 * epsilon), 1e-4) << i;
  }
}

Model chain_model() {
  Model model = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {6}}}},
       {"nodes",
        {{{"name", "fc1"}, {"type", "Linear"}, {"attributes", {{"out_features", 5}}}},
         {{"name", "relu"}, {"type", "ReLU"}},
         {{"name", "fc2"}, {"type", "Linear"}, {"attributes", {{"out_features", 4}}}}}}});
  model.initialize(3);
  return model;
}

// a[N, out] = x W^T: the Gauss–Newton recursion written out for one Linear layer.
Tensor linear_weight_curvature(const Tensor& d2a, const Tensor& x) {
  Tensor h({d2a.dim(1), x.dim(1)});
  for (int64_t o = 0; o < d2a.dim(1); ++o)
    for (int64_t j = 0; j < x.dim(1); ++j) {
      double sum = 0.0;
      for (int64_t n = 0; n < x.dim(0); ++n)
        sum += d2a[n * d2a.dim(1) + o] * x[n * x.dim(1) + j] * x[n * x.dim(1) + j];
      h[o * x.dim(1) + j] = static_cast<float>(sum);
    }
  return h;
}
Tensor linear_input_curvature(const Tensor& d2a, const Tensor& w) {
  Tensor d2x({d2a.dim(0), w.dim(1)});
  for (int64_t n = 0; n < d2a.dim(0); ++n)
    for (int64_t j = 0; j < w.dim(1); ++j) {
      double sum = 0.0;
      for (int64_t o = 0; o < w.dim(0); ++o)
        sum += d2a[n * w.dim(0) + o] * w[o * w.dim(1) + j] * w[o * w.dim(1) + j];
      d2x[n * w.dim(1) + j] = static_cast<float>(sum);
    }
  return d2x;
}

void expect_close(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  for (int64_t i = 0; i < a.numel(); ++i)
    EXPECT_NEAR(a[i], b[i], 1e-5 + 1e-4 * std::abs(b[i])) << what << " " << i;
}

TEST(Curvature, ModelPassFollowsTheRecursionOfThePaper) {
  Model model = chain_model();
  const Tensor x = random_tensor({8, 6}, 50);
  const Tensor& logits = model.forward(x, false);
  const Tensor d2z = cross_entropy_curvature(logits);
  std::map<std::string, Tensor> h;
  accumulate_curvature(model, x, d2z, h);
  ASSERT_EQ(h.size(), 2u) << "the two weights (biases are not pruned)";

  const Tensor& hidden = model.value("relu");
  expect_close(h.at("fc2.weight"), linear_weight_curvature(d2z, hidden), "fc2");
  Tensor d2h = linear_input_curvature(d2z, model.parameter("fc2.weight").value);
  const Tensor& pre = model.value("fc1");
  for (int64_t i = 0; i < d2h.numel(); ++i) d2h[i] *= pre[i] > 0.0f ? 1.0f : 0.0f;
  expect_close(h.at("fc1.weight"), linear_weight_curvature(d2h, x), "fc1");

  // A second batch adds to the first.
  std::map<std::string, Tensor> twice = h;
  model.forward(x, false);
  accumulate_curvature(model, x, d2z, twice);
  for (int64_t i = 0; i < h.at("fc1.weight").numel(); ++i)
    EXPECT_FLOAT_EQ(twice.at("fc1.weight")[i], 2.0f * h.at("fc1.weight")[i]);
}

// x -> fc1 -> relu -+-> fc2 -> add -> fc3: relu's curvature is the sum over its two consumers.
TEST(Curvature, ResidualBranchesSumTheirCurvature) {
  Model model = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {5}}}},
       {"nodes",
        {{{"name", "fc1"}, {"type", "Linear"}, {"attributes", {{"out_features", 4}}}},
         {{"name", "relu"}, {"type", "ReLU"}},
         {{"name", "fc2"}, {"type", "Linear"}, {"attributes", {{"out_features", 4}}}},
         {{"name", "add"}, {"type", "Add"}, {"inputs", {"relu", "fc2"}}},
         {{"name", "fc3"}, {"type", "Linear"}, {"attributes", {{"out_features", 3}}}}}}});
  model.initialize(4);
  const Tensor x = random_tensor({6, 5}, 51);
  const Tensor d2z = cross_entropy_curvature(model.forward(x, false));
  std::map<std::string, Tensor> h;
  accumulate_curvature(model, x, d2z, h);

  const Tensor d2s = linear_input_curvature(d2z, model.parameter("fc3.weight").value);
  expect_close(h.at("fc2.weight"), linear_weight_curvature(d2s, model.value("relu")), "fc2");
  Tensor d2r = linear_input_curvature(d2s, model.parameter("fc2.weight").value);
  d2r.flat() += d2s.flat();  // the skip connection
  const Tensor& pre = model.value("fc1");
  for (int64_t i = 0; i < d2r.numel(); ++i) d2r[i] *= pre[i] > 0.0f ? 1.0f : 0.0f;
  expect_close(h.at("fc1.weight"), linear_weight_curvature(d2r, x), "fc1");
}

// One Linear layer under the mean cross-entropy: the Gauss–Newton diagonal is the exact
// Hessian diagonal, so it must match second differences of the model's loss.
TEST(Curvature, LastLayerCurvatureIsTheSecondDerivativeOfTheCrossEntropy) {
  Model model = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {5}}}},
       {"nodes", {{{"name", "fc"}, {"type", "Linear"}, {"attributes", {{"out_features", 3}}}}}}});
  model.initialize(5);
  const Tensor x = random_tensor({6, 5}, 52, -2.0f, 2.0f);
  const std::vector<int32_t> labels{0, 1, 2, 0, 1, 2};
  std::map<std::string, Tensor> h;
  accumulate_curvature(model, x, cross_entropy_curvature(model.forward(x, false)), h);
  Tensor& w = model.parameter("fc.weight").value;
  auto loss = [&] { return static_cast<double>(cross_entropy(model.forward(x, false), labels)); };
  const double epsilon = 0.05;
  for (int64_t i = 0; i < w.numel(); ++i) {
    const float saved = w[i];
    const double centre = loss();
    w[i] = static_cast<float>(saved + epsilon);
    const double plus = loss();
    w[i] = static_cast<float>(saved - epsilon);
    const double minus = loss();
    w[i] = saved;
    const double second = (plus - 2.0 * centre + minus) / (epsilon * epsilon);
    EXPECT_NEAR(h.at("fc.weight")[i], second, 2e-3 + 2e-2 * std::abs(second)) << i;
  }
}

TEST(Curvature, AnOpWithoutARuleIsAClearErrorNamingTheNode) {
  Model model = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {5}}}},
       {"nodes",
        {{{"name", "fc1"}, {"type", "Linear"}, {"attributes", {{"out_features", 4}}}},
         {{"name", "probabilities"}, {"type", "Softmax"}, {"attributes", {{"dim", 1}}}},
         {{"name", "fc2"}, {"type", "Linear"}, {"attributes", {{"out_features", 3}}}}}}});
  model.initialize(1);
  const Tensor x = random_tensor({2, 5}, 1);
  const Tensor d2z = cross_entropy_curvature(model.forward(x, false));
  std::map<std::string, Tensor> h;
  const std::string message =
      testing::bad_input_message([&] { accumulate_curvature(model, x, d2z, h); });
  EXPECT_NE(message.find("node probabilities (Softmax)"), std::string::npos) << message;
  EXPECT_NE(message.find("no second-order rule"), std::string::npos) << message;
  EXPECT_FALSE(has_curvature_rule("Softmax"));
  EXPECT_TRUE(has_curvature_rule("Conv2d"));
}

}  // namespace
}  // namespace shrink
