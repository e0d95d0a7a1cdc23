// Optimizer updates against PyTorch's rules worked by hand on one weight w0 = 1 with gradients
// 0.5 then 0.25, so every expected number can be checked with a pocket calculator.
#include "shrink/train/optimizer.hpp"

#include "shrink/core/error.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace shrink {
namespace {

Parameter scalar_parameter(float value) {
  Parameter p;
  p.name = "w";
  p.value = Tensor({1}, {value});
  p.grad = Tensor({1});
  return p;
}

// Runs the optimizer over the given gradients and returns w after each step.
std::vector<float> trajectory(Optimizer& optimizer, std::vector<float> grads, float w0 = 1.0f) {
  Parameter p = scalar_parameter(w0);
  std::vector<float> values;
  for (float g : grads) {
    p.grad[0] = g;
    optimizer.step({&p});
    values.push_back(p.value[0]);
  }
  return values;
}

std::vector<float> run(const std::string& name, const nlohmann::json& options) {
  auto optimizer = make_optimizer(name, options);
  return trajectory(*optimizer, {0.5f, 0.25f});
}

TEST(Sgd, PlainStep) {
  // w = 1 - 0.1 * 0.5 = 0.95; then 0.95 - 0.1 * 0.25 = 0.925.
  const auto w = run("sgd", {{"lr", 0.1}});
  EXPECT_NEAR(w[0], 0.95f, 1e-7);
  EXPECT_NEAR(w[1], 0.925f, 1e-7);
}

TEST(Sgd, MomentumStartsTheBufferAtTheFirstGradient) {
  // buf = 0.5, w = 0.95; buf = 0.9 * 0.5 + 0.25 = 0.7, w = 0.95 - 0.07 = 0.88.
  const auto w = run("sgd", {{"lr", 0.1}, {"momentum", 0.9}});
  EXPECT_NEAR(w[0], 0.95f, 1e-7);
  EXPECT_NEAR(w[1], 0.88f, 1e-7);
}

TEST(Sgd, DampeningSkipsTheFirstStep) {
  // buf = 0.5 (undamped), w = 0.95; buf = 0.45 + 0.5 * 0.25 = 0.575, w = 0.8925.
  const auto w = run("sgd", {{"lr", 0.1}, {"momentum", 0.9}, {"dampening", 0.5}});
  EXPECT_NEAR(w[0], 0.95f, 1e-7);
  EXPECT_NEAR(w[1], 0.8925f, 1e-7);
}

TEST(Sgd, Nesterov) {
  // buf = 0.5, step 0.5 + 0.9 * 0.5 = 0.95, w = 0.905;
  // buf = 0.7, step 0.25 + 0.9 * 0.7 = 0.88, w = 0.905 - 0.088 = 0.817.
  const auto w = run("sgd", {{"lr", 0.1}, {"momentum", 0.9}, {"nesterov", true}});
  EXPECT_NEAR(w[0], 0.905f, 1e-7);
  EXPECT_NEAR(w[1], 0.817f, 1e-6);
}

TEST(Sgd, WeightDecayJoinsTheGradientBeforeMomentum) {
  // g = 0.5 + 0.1 * 1 = 0.6, buf = 0.6, w = 0.94;
  // g = 0.25 + 0.1 * 0.94 = 0.344, buf = 0.54 + 0.344 = 0.884, w = 0.94 - 0.0884 = 0.8516.
  const auto w = run("sgd", {{"lr", 0.1}, {"momentum", 0.9}, {"weight_decay", 0.1}});
  EXPECT_NEAR(w[0], 0.94f, 1e-7);
  EXPECT_NEAR(w[1], 0.8516f, 1e-6);
}

TEST(Adam, BiasCorrectedSteps) {
  // Step 1: m = 0.05, v = 0.00025, m/(1-b1) = 0.5, sqrt(v/(1-b2)) = 0.5, w = 1 - 0.1 * 0.5/0.5.
  // Step 2: m = 0.07, v = 0.00031225, w = 0.9 - 0.1/0.19 * 0.07 / (sqrt(v)/sqrt(0.001999) + eps)
  //         = 0.80678204.
  const auto w = run("adam", {{"lr", 0.1}});
  EXPECT_NEAR(w[0], 0.9f, 1e-6);
  EXPECT_NEAR(w[1], 0.80678204f, 1e-6);
}

TEST(Adam, L2WeightDecayGoesThroughTheMoments) {
  // Step 1 still moves by lr (Adam's first step is lr * sign(g)); step 2 uses
  // g = 0.25 + 0.1 * 0.9 = 0.34: w = 0.80500977.
  const auto w = run("adam", {{"lr", 0.1}, {"weight_decay", 0.1}});
  EXPECT_NEAR(w[0], 0.9f, 1e-6);
  EXPECT_NEAR(w[1], 0.80500977f, 1e-6);
}

TEST(AdamW, DecoupledWeightDecayShrinksTheWeight) {
  // w = 1 * (1 - 0.1 * 0.1) - 0.1 = 0.89; then 0.89 * 0.99 - 0.0932180 = 0.78788204.
  const auto w = run("adamw", {{"lr", 0.1}, {"weight_decay", 0.1}});
  EXPECT_NEAR(w[0], 0.89f, 1e-6);
  EXPECT_NEAR(w[1], 0.78788204f, 1e-6);
}

TEST(AdamW, DefaultsArePyTorchs) {
  const auto optimizer = make_optimizer("adamw");
  const nlohmann::json o = optimizer->options();
  EXPECT_FLOAT_EQ(o["lr"].get<float>(), 1e-3f);
  EXPECT_FLOAT_EQ(o["weight_decay"].get<float>(), 1e-2f);
  EXPECT_FLOAT_EQ(o["betas"][0].get<float>(), 0.9f);
  EXPECT_FLOAT_EQ(o["betas"][1].get<float>(), 0.999f);
  EXPECT_FLOAT_EQ(o["eps"].get<float>(), 1e-8f);
}

TEST(Optimizer, OptionsRebuildTheSameOptimizer) {
  for (const auto& [name, options] :
       std::vector<std::pair<std::string, nlohmann::json>>{
           {"sgd", {{"lr", 0.05}, {"momentum", 0.8}, {"nesterov", true}, {"weight_decay", 0.01}}},
           {"adam", {{"lr", 0.02}, {"betas", {0.8, 0.99}}, {"eps", 1e-6}}},
           {"adamw", {{"lr", 0.02}, {"weight_decay", 0.05}}}}) {
    auto a = make_optimizer(name, options);
    auto b = make_optimizer(a->name(), a->options());
    EXPECT_EQ(a->name(), name);
    EXPECT_EQ(trajectory(*a, {0.3f, -0.7f, 0.1f}), trajectory(*b, {0.3f, -0.7f, 0.1f})) << name;
  }
}

TEST(Optimizer, MaskedWeightsStayExactlyZero) {
  for (const std::string name : {"sgd", "adam", "adamw"}) {
    nlohmann::json options = {{"lr", 0.1}, {"weight_decay", 0.1}};
    if (name == "sgd") options["momentum"] = 0.9;
    auto optimizer = make_optimizer(name, options);
    Parameter p;
    p.name = "fc.weight";
    p.value = Tensor({2, 2}, {1.0f, 2.0f, 3.0f, 4.0f});
    p.mask = Tensor({2, 2}, {1.0f, 0.0f, 1.0f, 0.0f});
    p.apply_mask();
    p.grad = Tensor({2, 2});
    for (int step = 0; step < 5; ++step) {
      for (int64_t i = 0; i < 4; ++i) p.grad[i] = 0.3f + 0.1f * static_cast<float>(i + step);
      optimizer->step({&p});
      EXPECT_EQ(p.value[1], 0.0f) << name;
      EXPECT_EQ(p.value[3], 0.0f) << name;
      EXPECT_EQ(p.grad[1], 0.0f) << name;
    }
    EXPECT_NE(p.value[0], 1.0f) << name;
    EXPECT_NE(p.value[2], 3.0f) << name;
  }
}

TEST(Optimizer, MaskAppliedAfterPruningMidTrainingStopsMomentum) {
  // Momentum built up before pruning must not move a weight pruned later.
  auto optimizer = make_optimizer("sgd", {{"lr", 0.1}, {"momentum", 0.9}});
  Parameter p = scalar_parameter(1.0f);
  p.grad[0] = 1.0f;
  optimizer->step({&p});
  p.mask = Tensor({1}, {0.0f});
  p.apply_mask();
  p.grad[0] = 1.0f;
  optimizer->step({&p});
  EXPECT_EQ(p.value[0], 0.0f);
}

TEST(Optimizer, ARegrownWeightStartsWithAFreshState) {
  // Sparse training (SET, RigL) prunes a weight and may later regrow it at zero: its first step
  // then must be the first step of a fresh weight, with no momentum or moments left from before.
  for (const char* name : {"sgd", "adam"}) {
    const bool sgd = std::string(name) == "sgd";
    auto optimizer = make_optimizer(name, sgd ? nlohmann::json{{"lr", 0.1}, {"momentum", 0.9}}
                                              : nlohmann::json{{"lr", 0.1}});
    Parameter p = scalar_parameter(1.0f);
    p.grad[0] = 1.0f;
    optimizer->step({&p});  // builds up a state
    p.mask = Tensor({1}, {0.0f});
    p.apply_mask();
    p.grad[0] = 1.0f;
    optimizer->step({&p});  // pruned
    p.mask[0] = 1.0f;       // regrown at zero
    p.grad[0] = 0.5f;
    optimizer->step({&p});
    // SGD: buf = g on a fresh weight, w = -0.1 * 0.5. Adam at step 3 with m = 0.1 * 0.5 and
    // v = 0.001 * 0.25: w = -0.1 / (1 - 0.9^3) * m / (sqrt(v) / sqrt(1 - 0.999^3) + eps).
    const double m = 0.05, v = 0.00025;
    const double adam = -0.1 / (1.0 - std::pow(0.9, 3)) * m /
                        (std::sqrt(v) / std::sqrt(1.0 - std::pow(0.999, 3)) + 1e-8);
    EXPECT_NEAR(p.value[0], sgd ? -0.05 : adam, 1e-6) << name;
  }
}

TEST(Optimizer, SkipsFrozenParametersAndParametersWithoutGradient) {
  auto optimizer = make_optimizer("sgd", {{"lr", 0.1}, {"weight_decay", 0.5}});
  Parameter frozen = scalar_parameter(1.0f);
  frozen.trainable = false;
  frozen.grad[0] = 1.0f;
  Parameter no_grad;
  no_grad.name = "b";
  no_grad.value = Tensor({1}, {2.0f});
  optimizer->step({&frozen, &no_grad});
  EXPECT_EQ(frozen.value[0], 1.0f);
  EXPECT_EQ(no_grad.value[0], 2.0f);
}

TEST(Optimizer, LearningRateCanChangeBetweenSteps) {
  auto optimizer = make_optimizer("sgd", {{"lr", 0.1}});
  Parameter p = scalar_parameter(1.0f);
  p.grad[0] = 1.0f;
  optimizer->set_learning_rate(0.5f);
  optimizer->step({&p});
  EXPECT_FLOAT_EQ(p.value[0], 0.5f);
  EXPECT_FLOAT_EQ(optimizer->learning_rate(), 0.5f);
  EXPECT_THROW(optimizer->set_learning_rate(-1.0f), Error);
}

TEST(Optimizer, BadNamesAndOptionsAreClearErrors) {
  try {
    make_optimizer("rmsprop");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::BadInput);
    EXPECT_NE(std::string(e.what()).find("sgd, adam, adamw"), std::string::npos) << e.what();
  }
  try {
    make_optimizer("sgd", {{"lr", 0.1}, {"momentun", 0.9}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("momentun"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_optimizer("sgd", {{"nesterov", true}}), Error);      // needs momentum
  EXPECT_THROW(make_optimizer("sgd", {{"lr", -0.1}}), Error);
  EXPECT_THROW(make_optimizer("adam", {{"betas", {0.9, 1.0}}}), Error);
  EXPECT_THROW(make_optimizer("adam", {{"betas", {0.9}}}), Error);
  EXPECT_THROW(make_optimizer("adam", {{"lr", "fast"}}), Error);
}

}  // namespace
}  // namespace shrink
