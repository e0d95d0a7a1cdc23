// Model::backward computes a gradient only where a trainable parameter lies upstream: a value
// computed from the model input alone gets none, so no op wastes work on it.
#include "shrink/nn/model.hpp"

#include "shrink/nn/op.hpp"

#include <gtest/gtest.h>

#include <memory>

namespace shrink {
namespace {

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

}  // namespace
}  // namespace shrink
