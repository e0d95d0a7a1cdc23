// Model::backward: a gradient only where a trainable parameter lies upstream (a value computed
// from the model input alone gets none, so no op wastes work on it), and the overwriting mode
// the trainer uses instead of zero_grad() + backward(). Models with several inputs, and inputs
// the model keeps for backward so callers may drop theirs.
#include "shrink/nn/model.hpp"

#include "shrink/core/error.hpp"
#include "shrink/core/random.hpp"
#include "shrink/nn/architectures.hpp"
#include "shrink/nn/gradient_check.hpp"
#include "shrink/nn/op.hpp"
#include "support/errors.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <optional>

namespace shrink {
namespace {

using testing::bad_input_message;

// Passes its input through and records how backward was called.
struct Calls {
  int backward = 0;
  int with_input_gradient = 0;
};

class Probe final : public Op {
 public:
  explicit Probe(Calls& calls) : calls_(calls) {}
  std::string type() const override { return "Probe"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override { return inputs.at(0); }
  void forward(const OpArgs& args, Tensor& output) override { output = *args.inputs.at(0); }
  void backward(const OpArgs&, const Tensor&, const Tensor& grad_output,
                const std::vector<Tensor*>& grad_inputs) override {
    ++calls_.backward;
    if (grad_inputs.at(0) == nullptr) return;
    ++calls_.with_input_gradient;
    *grad_inputs[0] = grad_output;
  }

 private:
  Calls& calls_;
};

// input -> flatten -> probe -> fc1 -> probe -> fc2
Model probed_mlp(Calls& first, Calls& second) {
  Model model;
  model.set_input("x", {2, 3});
  model.add_node("flatten", make_op("Flatten", {}));
  model.add_node("first", std::make_unique<Probe>(first));
  model.add_node("fc1", make_op("Linear", {{"out_features", 4}}));
  model.add_node("second", std::make_unique<Probe>(second));
  model.add_node("fc2", make_op("Linear", {{"out_features", 2}}));
  model.initialize(1);
  return model;
}

void train_step(Model& model) {
  const Tensor x({5, 2, 3}, 0.5f);
  model.zero_grad();
  const Tensor& y = model.forward(x, /*training=*/true);
  model.backward(Tensor(y.shape(), 1.0f));
}

TEST(ModelBackward, SkipsValuesWithoutATrainableParameterUpstream) {
  Calls first, second;
  Model model = probed_mlp(first, second);
  train_step(model);
  EXPECT_EQ(first.backward, 0);  // its input and output come from the model input alone
  EXPECT_EQ(second.backward, 1);
  EXPECT_EQ(second.with_input_gradient, 1);  // fc1 is trainable
  // The gradients themselves are still there.
  EXPECT_NE(model.parameter("fc1.weight").grad.flat().norm(), 0.0f);
}

TEST(ModelBackward, FrozenLayersNeedNoInputGradient) {
  Calls first, second;
  Model model = probed_mlp(first, second);
  model.parameter("fc1.weight").trainable = false;
  model.parameter("fc1.bias").trainable = false;
  train_step(model);
  // fc2 still trains, but nothing before it needs a gradient.
  EXPECT_EQ(second.backward, 0);
  EXPECT_EQ(first.backward, 0);
  EXPECT_NE(model.parameter("fc2.weight").grad.flat().norm(), 0.0f);
}

// backward(g, accumulate=false) must give exactly what zero_grad() + backward(g) gives, whatever
// the grads held before: ops that write their gradients directly (Linear) and ops whose grads
// the model zeroes first (Conv2d, BatchNorm) alike, frozen and unreached parameters included.
TEST(ModelBackward, OverwritingEqualsZeroingThenAccumulating) {
  for (const char* arch : {"lenet-300-100", "lenet5", "resnet-small"}) {
    Model reference = build_architecture(arch, {1, 28, 28}, 10);
    // A node off the path to the output: its parameters get no gradient at all.
    reference.add_node("unused", make_op("Linear", {{"out_features", 3}}),
                       {reference.output_name()});
    reference.set_output(reference.nodes()[reference.nodes().size() - 2].name);
    reference.initialize(2);
    reference.parameters().front()->trainable = false;
    Model overwriting = reference.clone();

    Tensor x({4, 1, 28, 28});
    Rng rng(5);
    for (float& v : x) v = rng.uniform(0.0f, 1.0f);
    Tensor g({4, 10});
    for (float& v : g) v = rng.uniform(-1.0f, 1.0f);

    reference.zero_grad();
    reference.forward(x, /*training=*/true);
    reference.backward(g);

    overwriting.zero_grad();
    for (Parameter* p : overwriting.parameters()) p->grad.fill(7.0f);  // stale values
    overwriting.forward(x, /*training=*/true);
    overwriting.backward(g, /*accumulate=*/false);

    for (const Parameter* p : reference.parameters()) {
      const Tensor& got = overwriting.parameter(p->name).grad;
      ASSERT_EQ(got.shape(), p->grad.shape()) << arch << " " << p->name;
      for (int64_t i = 0; i < got.numel(); ++i)
        ASSERT_EQ(got[i], p->grad[i]) << arch << " " << p->name << "[" << i << "]";
    }
    EXPECT_EQ(overwriting.parameter("unused.weight").grad.flat().norm(), 0.0f);
  }
}

// A gradient injected at a hidden activation (a distillation loss on a hidden layer) is the
// gradient of f = sum(output * g) + sum(hidden * h) with h the injected tensor, for the
// parameters below the hidden node (checked by finite differences) and above it.
TEST(ModelBackward, InjectedActivationGradientsAreGradientsOfTheSum) {
  Model model;
  model.set_input("x", {3});
  model.add_node("fc1", make_op("Linear", {{"out_features", 5}}));
  model.add_node("act", make_op("Tanh", {}));
  model.add_node("fc2", make_op("Linear", {{"out_features", 2}}));
  model.initialize(3);
  Rng rng(11);
  Tensor x({4, 3}), g({4, 2}), h({4, 5});
  for (Tensor* t : {&x, &g, &h})
    for (float& v : *t) v = rng.uniform(-1.0f, 1.0f);
  auto objective = [&]() -> double {
    const Tensor& y = model.forward(x, /*training=*/true);
    double total = 0.0;
    for (int64_t i = 0; i < y.numel(); ++i) total += double{y[i]} * g[i];
    const Tensor& hidden = model.value("act");
    for (int64_t i = 0; i < hidden.numel(); ++i) total += double{hidden[i]} * h[i];
    return total;
  };
  objective();
  const ActivationGradients injected = {{"act", h}};
  model.backward(g, /*accumulate=*/false, &injected);
  for (const char* name : {"fc1.weight", "fc1.bias", "fc2.weight"}) {
    Parameter& p = model.parameter(name);
    const Tensor analytic = p.grad;
    const GradientCheckResult check = check_gradient(objective, p.value, analytic, name);
    EXPECT_LT(check.max_error, 2e-3) << check.worst;
  }
}

// gradient(node) is dL/d(node's output): at the output it is what was passed in, one layer down
// it is that times the layer's weight; a value the pass skipped has none, and says so.
TEST(ModelBackward, GradientOfANodeIsTheGradientOfItsOutput) {
  Calls first, second;
  Model model = probed_mlp(first, second);
  const Tensor x({5, 2, 3}, 0.5f);
  const Tensor& y = model.forward(x, false);
  Tensor g(y.shape());
  for (int64_t i = 0; i < g.numel(); ++i) g[i] = 0.1f * static_cast<float>(i + 1);
  model.backward(g);
  EXPECT_TRUE(model.gradient("fc2").flat() == g.flat());
  const Tensor& w = model.parameter("fc2.weight").value;  // [2, 4]
  const Tensor& second_grad = model.gradient("second");
  for (int64_t n = 0; n < 5; ++n)
    for (int64_t j = 0; j < 4; ++j)
      EXPECT_FLOAT_EQ(second_grad[n * 4 + j], g[n * 2] * w[j] + g[n * 2 + 1] * w[4 + j]);
  EXPECT_NE(testing::bad_input_message([&] { model.gradient("first"); }).find("node first has no gradient"),
            std::string::npos);
  model.forward(x, false);  // a new forward pass: the old gradients are gone
  EXPECT_NE(testing::bad_input_message([&] { model.gradient("fc2"); }).find("has no gradient"),
            std::string::npos);
}

TEST(ModelBackward, InjectedGradientsAreChecked) {
  Model model;
  model.set_input("x", {3});
  model.add_node("fc1", make_op("Linear", {{"out_features", 5}}));
  model.add_node("fc2", make_op("Linear", {{"out_features", 2}}));
  model.initialize(3);
  const Tensor x({4, 3}, 1.0f);
  model.forward(x, /*training=*/true);
  const Tensor g({4, 2}, 1.0f);
  const ActivationGradients unknown = {{"nope", Tensor({4, 5})}};
  EXPECT_THROW(model.backward(g, false, &unknown), Error);
  const ActivationGradients wrong_shape = {{"fc1", Tensor({4, 4})}};
  EXPECT_THROW(model.backward(g, false, &wrong_shape), Error);
  EXPECT_THROW(model.value("nope"), Error);
  EXPECT_EQ(model.value("fc1").shape(), (Shape{4, 5}));
}

// out = a * b + a: two inputs, one of them read twice.
Model two_input_model() {
  Model model;
  model.set_input("a", {2, 3});
  model.add_input("b", {2, 3});
  model.add_node("product", make_op("Mul", {}), {"a", "b"});
  model.add_node("sum", make_op("Add", {}), {"product", "a"});
  return model;
}

TEST(ModelInputs, SeveralInputsRunTogether) {
  Model model = two_input_model();
  ASSERT_EQ(model.inputs().size(), 2u);
  EXPECT_EQ(model.inputs()[1], (ModelInput{"b", {2, 3}}));
  EXPECT_EQ(model.input_name(), "a");  // the first, for single-input callers
  Tensor a({4, 2, 3}), b({4, 2, 3});
  Rng rng(7);
  for (Tensor* t : {&a, &b})
    for (float& v : *t) v = rng.uniform(-1.0f, 1.0f);
  const Tensor& y = model.forward({&a, &b});
  ASSERT_EQ(y.shape(), (Shape{4, 2, 3}));
  for (int64_t i = 0; i < y.numel(); ++i) EXPECT_NEAR(y[i], a[i] * b[i] + a[i], 1e-6f);
}

TEST(ModelInputs, MismatchedInputsAreBadInput) {
  Model model = two_input_model();
  const Tensor a({4, 2, 3}), b({5, 2, 3}), wrong({4, 3, 2});
  const std::string one = bad_input_message([&] { model.forward(a); });
  EXPECT_NE(one.find("takes 2 inputs (a, b)"), std::string::npos) << one;
  const std::string batch = bad_input_message([&] { model.forward({&a, &b}); });
  EXPECT_NE(batch.find("same"), std::string::npos) << batch;
  const std::string shape = bad_input_message([&] { model.forward({&a, &wrong}); });
  EXPECT_NE(shape.find("model input b [N, 2, 3]"), std::string::npos) << shape;
  EXPECT_NE(bad_input_message([&] { model.forward({&a}); }), "");
  EXPECT_NE(bad_input_message([&] { model.add_input("c", {1}); }), "");  // after nodes
  Model empty;
  empty.set_input("x", {3});
  EXPECT_NE(bad_input_message([&] { empty.add_input("x", {3}); }), "");  // twice
}

// Sizes past int64 parse as doubles; converting one to an integer would be undefined (a fuzzer's
// find, tests/fixtures/fuzz/architecture/), so shapes and integer attributes must be integers.
TEST(ModelInputs, GraphShapesAndIntegerListsMustHoldIntegers) {
  for (const char* size : {"3.5", "3888888888888888888888888888888888", "\"4\""}) {
    const auto graph = nlohmann::json::parse(std::string(R"({"input": {"shape": [)") + size +
                                             R"(, 4]}, "nodes": [{"type": "ReLU"}]})");
    EXPECT_NE(bad_input_message([&] { Model::from_graph_json(graph); })
                  .find("\"shape\" must be a list of whole numbers"),
              std::string::npos)
        << size;
  }
  const auto reshape = nlohmann::json::parse(
      R"({"input": {"shape": [4]}, "nodes": [{"type": "Reshape", "attributes": {"shape": [2, 2.0e70]}}]})");
  EXPECT_NE(bad_input_message([&] { Model::from_graph_json(reshape); })
                .find("attribute 'shape' must be a list of integers"),
            std::string::npos);  for (const char* node : {R"({"type": "MatMul", "attributes": {"in_features": 4, "out_features": 2.0e70}})",
                           R"({"type": "Concat", "attributes": {"axis": 1.5}})"}) {
    const auto graph = nlohmann::json::parse(std::string(R"({"input": {"shape": [4]}, "nodes": [)") +
                                             node + "]}");
    EXPECT_NE(bad_input_message([&] { Model::from_graph_json(graph); }).find("must be an integer"),
              std::string::npos)
        << node;
  }
}

TEST(ModelInputs, GraphDescriptionAndCloneKeepEveryInput) {
  const Model model = two_input_model();
  const nlohmann::json graph = model.graph_json();
  EXPECT_FALSE(graph.contains("input"));
  ASSERT_EQ(graph["inputs"].size(), 2u);
  const Model again = Model::from_graph_json(graph);
  EXPECT_EQ(again.inputs(), model.inputs());
  EXPECT_EQ(again.graph_json(), graph);
  EXPECT_EQ(model.clone().inputs(), model.inputs());
  // A single-input model keeps the "input" form older files use.
  const Model mlp = build_architecture("lenet-300-100", {1, 28, 28}, 10);
  EXPECT_TRUE(mlp.graph_json().contains("input"));
  EXPECT_FALSE(mlp.graph_json().contains("inputs"));
}

// Backward reads the input of the last forward pass. The model keeps its own copy, so a caller's
// tensor that changed or went away in between (Pass::run's probe passes a temporary) cannot
// change the gradients or be read after it was freed.
TEST(ModelInputs, BackwardDoesNotReadTheCallersInput) {
  for (const char* arch : {"lenet5", "lenet-300-100"}) {
    SCOPED_TRACE(arch);
    Model model = build_architecture(arch, {1, 28, 28}, 10);
    model.initialize(4);
    Model reference = model.clone();
    Rng rng(9);
    Tensor x({3, 1, 28, 28});
    for (float& v : x) v = rng.uniform(0.0f, 1.0f);
    const Tensor g({3, 10}, 1.0f);
    reference.forward(x, /*training=*/true);
    reference.backward(g, /*accumulate=*/false);

    std::optional<Tensor> caller(x);
    model.forward(*caller, /*training=*/true);
    caller->fill(1e6f);  // what freed memory might hold
    caller.reset();
    model.backward(g, /*accumulate=*/false);
    for (const Parameter* p : reference.parameters())
      ASSERT_EQ(model.parameter(p->name).grad, p->grad) << p->name;
  }
}

TEST(ModelInputs, BackwardAfterAnInferencePassStillWorks) {
  // Gradients of an eval-mode forward (BatchNorm with running statistics) are legitimate.
  Model model = build_architecture("resnet-small", {1, 28, 28}, 10);
  model.initialize(6);
  Model reference = model.clone();
  Tensor x({2, 1, 28, 28}, 0.25f);
  reference.forward(x, /*training=*/false);
  reference.backward(Tensor({2, 10}, 1.0f), false);
  model.forward(Tensor(x), /*training=*/false);  // a temporary
  model.backward(Tensor({2, 10}, 1.0f), false);
  for (const Parameter* p : reference.parameters())
    ASSERT_EQ(model.parameter(p->name).grad, p->grad) << p->name;
}

}  // namespace
}  // namespace shrink
