// Finite-difference checks of Model::backward over whole models: every built-in architecture,
// a residual block and a value with several consumers. A per-op check cannot see the model's
// own part of backward (summing the gradients of a value's consumers, routing them through the
// graph), so each model is also broken on purpose, one branch at a time: that branch's gradient
// dropped or scaled by 0.9 must fail the same check.
#include "shrink/core/random.hpp"
#include "shrink/nn/architectures.hpp"
#include "shrink/nn/gradient_check.hpp"
#include "shrink/nn/model.hpp"
#include "support/scaled_gradients.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace shrink {
namespace {

// Passes the whole model check; dropping or scaling one branch's gradient by 0.9 fails it.
constexpr double kModelTolerance = 1e-2;

std::unique_ptr<Op> op(const std::string& type, nlohmann::json attributes = nlohmann::json::object()) {
  return make_op(type, attributes);
}

// y = x + fc2(tanh(fc1(x))), twice, then a classifier: the skip and the residual branch both
// carry a large share of every gradient below them.
Model residual_mlp() {
  Model model;
  model.set_input("x", {6});
  model.add_node("stem", op("Linear", {{"out_features", 8}}));
  std::string x = "stem";
  for (const std::string block : {"block1", "block2"}) {
    model.add_node(block + ".fc1", op("Linear", {{"out_features", 8}}), {x});
    model.add_node(block + ".act", op("Tanh"));
    model.add_node(block + ".fc2", op("Linear", {{"out_features", 8}}));
    model.add_node(block + ".add", op("Add"), {block + ".fc2", x});
    x = block + ".add";
  }
  model.add_node("head", op("Linear", {{"out_features", 3}}), {x});
  return model;
}

// h feeds four consumers, one of them twice: fcA(h), fcB(h), h itself into a three-way Add,
// and h * h.
Model fan_out() {
  Model model;
  model.set_input("x", {5});
  model.add_node("fc", op("Linear", {{"out_features", 6}}));
  model.add_node("h", op("Sigmoid"));
  model.add_node("fcA", op("Linear", {{"out_features", 6}}), {"h"});
  model.add_node("fcB", op("Linear", {{"out_features", 6}}), {"h"});
  model.add_node("square", op("Mul"), {"h", "h"});
  model.add_node("sum", op("Add"), {"fcA", "fcB", "h", "square"});
  model.add_node("head", op("Linear", {{"out_features", 4}}));
  return model;
}

struct Case {
  std::string name;
  std::function<Model()> build;
  Shape input;  // per sample
  // Random directions besides the gradient's: only in models without kinks (no ReLU, no max
  // pool), where they see branches whose share of the gradient is small.
  int random_directions = 0;
};

ModelGradientCheckOptions options_for(const Case& c) {
  ModelGradientCheckOptions options;
  options.random_directions = c.random_directions;
  // Without kinks a longer step costs nothing and keeps the small changes along random
  // directions well above the float noise.
  if (c.random_directions > 0) options.epsilon = 1e-3;
  return options;
}

void PrintTo(const Case& c, std::ostream* out) { *out << c.name; }

// Every built-in architecture, at sizes that keep the suite fast; its backward does not depend
// on the width or the image size (LeNet-5's two 5x5 convolutions need 16x16; ResNet's batch
// statistics over 2x2 maps after downsampling 8x8 are too few for its float noise).
std::vector<Case> cases() {
  std::vector<Case> list;
  for (const ArchitectureInfo& info : list_architectures()) {
    if (info.name.find('.') != std::string::npos) continue;  // FILE.json: a user's file, not a model
    const Shape image = info.name == "lenet5"         ? Shape{1, 16, 16}
                        : info.name == "resnet-small" ? Shape{1, 12, 12}
                                                      : Shape{1, 8, 8};
    nlohmann::json options = {{"seed", 3}};
    if (info.name == "mlp") options["hidden"] = {12, 8};
    if (info.name == "vgg-small") options["channels"] = {4, 6};
    if (info.name == "resnet-small") options["width"] = 4;
    list.push_back({info.name, [=] { return build_architecture(info.name, image, 10, options); },
                    image});
  }
  list.push_back({"residual-mlp", [] { Model m = residual_mlp(); m.initialize(5); return m; }, {6}, 2});
  list.push_back({"fan-out", [] { Model m = fan_out(); m.initialize(6); return m; }, {5}, 2});
  return list;
}

Tensor batch_for(const Shape& sample, int64_t batch, uint64_t seed) {
  Shape shape{batch};
  shape.insert(shape.end(), sample.begin(), sample.end());
  Tensor x(shape);
  Rng rng(seed);
  for (float& v : x) v = rng.uniform(-1.0f, 1.0f);
  return x;
}

class ModelGradients : public ::testing::TestWithParam<Case> {};

TEST_P(ModelGradients, BackwardMatchesFiniteDifferences) {
  Model model = GetParam().build();
  const Tensor x = batch_for(GetParam().input, 4, 11);
  const GradientCheckResult result = check_model_gradients(model, x, options_for(GetParam()));
  EXPECT_LT(result.max_error, kModelTolerance) << result.worst;
}

// Nodes with a trainable parameter at or above them: only their outputs get a gradient.
std::set<std::string> nodes_with_gradient(const Model& model) {
  std::set<std::string> names;
  for (const Node& node : model.nodes()) {
    bool trainable = false;
    for (const std::string& p : node.parameters) trainable |= model.parameter(p).trainable;
    for (const std::string& in : node.inputs) trainable |= names.count(in) > 0;
    if (trainable) names.insert(node.name);
  }
  return names;
}

// Every edge that carries a gradient, in turn: its gradient dropped, then scaled by 0.9.
TEST_P(ModelGradients, TheCheckFailsWhenAnyBranchIsDroppedOrScaled) {
  Model model = GetParam().build();
  const Tensor x = batch_for(GetParam().input, 4, 11);
  const std::set<std::string> with_gradient = nodes_with_gradient(model);
  int edges = 0;
  for (size_t i = 0; i < model.nodes().size(); ++i) {
    Node& node = model.nodes()[i];
    for (size_t j = 0; j < node.inputs.size(); ++j) {
      if (!with_gradient.count(node.inputs[j])) continue;  // no gradient flows on this edge
      ++edges;
      for (const float factor : {0.0f, 0.9f}) {
        auto scaled = std::make_unique<testing::ScaledGradients>(
            std::move(node.op), factor, testing::ScaledGradients::Target::Input, j);
        testing::ScaledGradients* wrapper = scaled.get();
        model.nodes()[i].op = std::move(scaled);
        const GradientCheckResult result = check_model_gradients(model, x, options_for(GetParam()));
        model.nodes()[i].op = wrapper->release();
        EXPECT_GT(result.max_error, kModelTolerance)
            << "gradient from " << node.name << " to input " << j << " (" << node.inputs[j]
            << ") scaled by " << factor << " passed: " << result.worst;
      }
    }
  }
  EXPECT_GT(edges, 0);
}

INSTANTIATE_TEST_SUITE_P(Models, ModelGradients, ::testing::ValuesIn(cases()),
                         [](const auto& info) {
                           std::string name = info.param.name;
                           for (char& c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

}  // namespace
}  // namespace shrink
