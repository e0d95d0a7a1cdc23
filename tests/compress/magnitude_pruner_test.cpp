#include "shrink/compress/pass.hpp"
#include "shrink/core/error.hpp"
#include "shrink/nn/weights.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace shrink {
namespace {

// fc1 (16 -> 32) and fc2 (32 -> 4): 512 + 128 weights with distinct magnitudes.
Model small_mlp() {
  Model model = Model::from_graph_json({{"input", {{"name", "x"}, {"shape", {16}}}},
                                        {"nodes",
                                         {{{"name", "fc1"}, {"type", "Linear"}, {"attributes", {{"out_features", 32}}}},
                                          {{"name", "relu"}, {"type", "ReLU"}},
                                          {{"name", "fc2"}, {"type", "Linear"}, {"attributes", {{"out_features", 4}}}}}}});
  model.initialize(1);
  // fc2's weights all exceed fc1's (|w| <= 1/4), so a global threshold spares them.
  for (float& w : model.parameter("fc2.weight").value) w = std::copysign(1.0f + std::abs(w), w);
  return model;
}

int64_t zeros(const Parameter& p) { return p.value.numel() - p.nonzeros(); }

TEST(MagnitudePruner, LayerScopePrunesEveryWeightTensorToTheTarget) {
  Model model = small_mlp();
  PassContext context;
  make_pass("prune.magnitude", {{"sparsity", 0.75}, {"scope", "layer"}})->run(model, context);
  EXPECT_EQ(zeros(model.parameter("fc1.weight")), 384);
  EXPECT_EQ(zeros(model.parameter("fc2.weight")), 96);
  EXPECT_EQ(zeros(model.parameter("fc1.bias")), 0) << "biases are not pruned";
  ASSERT_EQ(context.sections.size(), 1u);
  EXPECT_EQ(context.sections[0]["pass"], "prune.magnitude");
  EXPECT_NEAR(context.sections[0]["weight_sparsity_after"].get<double>(), 0.75, 1e-9);
}

TEST(MagnitudePruner, PrunesTheSmallestMagnitudes) {
  Model model = small_mlp();
  const Tensor before = model.parameter("fc1.weight").value;
  PassContext context;
  make_pass("prune.magnitude", {{"sparsity", 0.5}, {"scope", "layer"}})->run(model, context);
  const Parameter& w = model.parameter("fc1.weight");
  float largest_pruned = 0.0f, smallest_kept = 1e9f;
  for (int64_t i = 0; i < w.value.numel(); ++i) {
    if (w.mask[i] == 0.0f) largest_pruned = std::max(largest_pruned, std::abs(before[i]));
    else smallest_kept = std::min(smallest_kept, std::abs(before[i]));
    EXPECT_EQ(w.value[i], w.mask[i] == 0.0f ? 0.0f : before[i]);
  }
  EXPECT_LE(largest_pruned, smallest_kept);
}

TEST(MagnitudePruner, GlobalScopeUsesOneThreshold) {
  Model model = small_mlp();
  PassContext context;
  make_pass("prune.magnitude", {{"sparsity", 0.5}, {"scope", "global"}})->run(model, context);
  const SparsityStats stats = weight_sparsity(model);
  EXPECT_EQ(stats.zeros, 320);  // half of 640
  EXPECT_EQ(zeros(model.parameter("fc2.weight")), 0) << "large weights survive a global threshold";
  EXPECT_EQ(zeros(model.parameter("fc1.weight")), 320);
}

TEST(MagnitudePruner, IsCumulativeAndNeverRevivesWeights) {
  Model model = small_mlp();
  PassContext context;
  make_pass("prune.magnitude", {{"sparsity", 0.5}, {"scope", "layer"}})->run(model, context);
  const Tensor mask = model.parameter("fc1.weight").mask;
  make_pass("prune.magnitude", {{"sparsity", 0.8}, {"scope", "layer"}})->run(model, context);
  const Parameter& w = model.parameter("fc1.weight");
  for (int64_t i = 0; i < w.value.numel(); ++i)
    if (mask[i] == 0.0f) EXPECT_EQ(w.mask[i], 0.0f);
  EXPECT_NEAR(static_cast<double>(zeros(w)) / w.value.numel(), 0.8, 1e-2);
  make_pass("prune.magnitude", {{"sparsity", 0.3}, {"scope", "layer"}})->run(model, context);
  EXPECT_NEAR(static_cast<double>(zeros(w)) / w.value.numel(), 0.8, 1e-2) << "lower target keeps what is pruned";
}

TEST(MagnitudePruner, BadOptionsAreClearErrors) {
  auto message = [](const nlohmann::json& options) {
    try {
      make_pass("prune.magnitude", options);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), Error::Kind::BadInput);
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({{"sparsity", 1.0}}).find("sparsity must be in [0, 1)"), std::string::npos);
  EXPECT_NE(message({{"scope", "row"}}).find("scope must be"), std::string::npos);
  EXPECT_NE(message({{"sparsty", 0.5}}).find("unknown option 'sparsty'"), std::string::npos);
  EXPECT_NE(message({{"sparsity", "high"}}).find("wrong type"), std::string::npos);
}

TEST(PassRegistry, UnknownPassListsTheKnownOnes) {
  try {
    make_pass("prune.random", {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("prune.magnitude"), std::string::npos);
  }
}

TEST(Recipe, RoundTripsThroughJson) {
  const nlohmann::json json = {{"passes",
                                {{{"pass", "prune.magnitude"}, {"sparsity", 0.9}, {"scope", "global"}},
                                 {{"pass", "train.finetune"}, {"epochs", 2}}}}};
  const Recipe recipe = Recipe::from_json(json);
  EXPECT_EQ(Recipe::from_json(recipe.to_json()).to_json(), recipe.to_json());
  EXPECT_EQ(recipe.to_json()["passes"][0]["sparsity"], 0.9);
  EXPECT_THROW(Recipe::from_json({{"passes", {{{"sparsity", 0.5}}}}}), Error);
  EXPECT_THROW(Recipe::from_json(nlohmann::json::array()), Error);
}

TEST(Finetune, NeedsTrainingData) {
  Model model = small_mlp();
  PassContext context;
  try {
    make_pass("train.finetune", {{"epochs", 1}})->run(model, context);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("training data"), std::string::npos);
  }
}

}  // namespace
}  // namespace shrink

namespace shrink {
namespace {

// Two Gaussian blobs per class in 16 dimensions: learnable in a few epochs.
Dataset blobs(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> features;
  std::vector<int32_t> labels;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t label = static_cast<int32_t>(i % 4);
    for (int f = 0; f < 16; ++f) features.push_back(rng.normal(f % 4 == label ? 2.0f : 0.0f, 0.5f));
    labels.push_back(label);
  }
  return Dataset::from_floats("blobs", {16}, std::move(features), std::move(labels), 4);
}

TEST(Finetune, RecoversAccuracyAndKeepsPrunedWeightsAtZero) {
  Model model = small_mlp();
  const Dataset data = blobs(512, 3);
  PassContext context;
  context.train = &data;
  context.finetune.lr = 0.05f;
  make_pass("prune.magnitude", {{"sparsity", 0.9}, {"scope", "layer"}})->run(model, context);
  const Tensor mask = model.parameter("fc1.weight").mask;
  make_pass("train.finetune", {{"epochs", 4}})->run(model, context);
  const Parameter& w = model.parameter("fc1.weight");
  for (int64_t i = 0; i < w.value.numel(); ++i) {
    EXPECT_EQ(w.mask[i], mask[i]);
    if (mask[i] == 0.0f) EXPECT_EQ(w.value[i], 0.0f);
  }
  const auto& epochs = context.sections[1]["epochs"];
  ASSERT_EQ(epochs.size(), 4u);
  EXPECT_GT(epochs[3]["train_accuracy"].get<double>(), epochs[0]["train_accuracy"].get<double>());
  EXPECT_GT(epochs[3]["train_accuracy"].get<double>(), 0.75);
}

}  // namespace
}  // namespace shrink
