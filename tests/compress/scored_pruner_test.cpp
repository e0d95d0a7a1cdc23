// What every unstructured pruning pass shares: the default scope, "exclude", and the checks on
// the weights and scores (src/compress/prune/scored_pruner.hpp).
#include "../../src/compress/prune/scored_pruner.hpp"
#include "shrink/nn/weights.hpp"
#include "support/errors.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace shrink {
namespace {

using testing::bad_input_message;

// fc1 (16 -> 32), fc2 (32 -> 4); fc2's weights all exceed fc1's.
Model small_mlp() {
  Model model = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {16}}}},
       {"nodes",
        {{{"name", "fc1"}, {"type", "Linear"}, {"attributes", {{"out_features", 32}}}},
         {{"name", "relu"}, {"type", "ReLU"}},
         {{"name", "fc2"}, {"type", "Linear"}, {"attributes", {{"out_features", 4}}}}}}});
  model.initialize(1);
  for (float& w : model.parameter("fc2.weight").value) w = std::copysign(1.0f + std::abs(w), w);
  return model;
}

int64_t zeros(const Parameter& p) { return p.value.numel() - p.nonzeros(); }

// Recipes and the command line once defaulted to different scopes ("layer" and "global").
TEST(PruningScope, DefaultsToGlobalEverywhere) {
  EXPECT_EQ(make_pass("prune.magnitude", {{"sparsity", 0.5}})->options()["scope"], "global");
  Model model = small_mlp();
  PassContext context;
  make_pass("prune.magnitude", {{"sparsity", 0.5}})->run(model, context);
  EXPECT_EQ(zeros(model.parameter("fc2.weight")), 0) << "one global ranking spares fc2";
  EXPECT_EQ(weight_sparsity(model).zeros, 320);
}

TEST(PruningExclude, LeavesTheNamedLayersDenseAndPrunesTheRestToTheTarget) {
  for (const std::string scope : {"global", "layer"}) {
    Model model = small_mlp();
    PassContext context;
    make_pass("prune.magnitude", {{"sparsity", 0.75}, {"scope", scope}, {"exclude", {"fc2"}}})
        ->run(model, context);
    EXPECT_EQ(zeros(model.parameter("fc2.weight")), 0) << scope;
    EXPECT_FALSE(model.parameter("fc2.weight").has_mask()) << scope;
    EXPECT_EQ(zeros(model.parameter("fc1.weight")), 384) << scope;
    EXPECT_EQ(context.sections[0]["options"]["exclude"], nlohmann::json({"fc2"}));
    EXPECT_FALSE(context.sections[0]["layer_sparsity"].contains("fc2.weight"));
  }
}

TEST(PruningExclude, ANameThatMatchesNoLayerIsAClearError) {
  Model model = small_mlp();
  PassContext context;
  const std::string message = bad_input_message([&] {
    make_pass("prune.magnitude", {{"sparsity", 0.5}, {"exclude", {"fc9"}}})->run(model, context);
  });
  EXPECT_NE(message.find("cannot exclude 'fc9'"), std::string::npos) << message;
  EXPECT_NE(message.find("fc1.weight"), std::string::npos) << message;
  EXPECT_NE(bad_input_message([&] {
              make_pass("prune.magnitude", {{"exclude", {"fc1", "fc2"}}})->run(model, context);
            }).find("every compressible weight is excluded"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] { make_pass("prune.magnitude", {{"exclude", "fc1"}}); })
                .find("'exclude' has the wrong type"),
            std::string::npos);
}

// A NaN made nth_element's ordering undefined; the pass must name the tensor instead.
TEST(PruningChecks, NonFiniteWeightsAreRejectedByName) {
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(),
                          std::numeric_limits<float>::infinity()}) {
    for (const std::string scope : {"global", "layer"}) {
      Model model = small_mlp();
      model.parameter("fc2.weight").value[5] = bad;
      PassContext context;
      const std::string message = bad_input_message([&] {
        make_pass("prune.magnitude", {{"sparsity", 0.5}, {"scope", scope}})->run(model, context);
      });
      EXPECT_NE(message.find("weight fc2.weight holds a non-finite value"), std::string::npos)
          << message;
      EXPECT_NE(message.find("index 5"), std::string::npos) << message;
      EXPECT_FALSE(model.parameter("fc1.weight").has_mask()) << "nothing is pruned";
    }
  }
}

TEST(PruningChecks, NonFiniteScoresAreRejectedByName) {
  Model model = small_mlp();
  std::vector<Parameter*> weights = compressible_weights(model);
  std::vector<Tensor> scores;
  for (const Parameter* p : weights) scores.emplace_back(p->value.shape(), 1.0f);
  scores[0][3] = std::numeric_limits<float>::quiet_NaN();
  const std::string message =
      bad_input_message([&] { prune_lowest_scores(weights, scores, 0.5, "global"); });
  EXPECT_NE(message.find("pruning scores of fc1.weight are not finite"), std::string::npos)
      << message;
}

// The per-layer sparsity of an empty tensor divided 0 by 0.
TEST(PruningChecks, AnEmptyTensorHasSparsityZero) {
  Parameter empty;
  empty.name = "empty.weight";
  empty.value = Tensor({0, 16});
  Parameter full;
  full.name = "full.weight";
  full.value = Tensor({2, 2}, 1.0f);
  full.value[0] = 0.0f;
  std::vector<Parameter*> weights{&empty, &full};
  prune_lowest_scores(weights, {Tensor({0, 16}), Tensor({2, 2}, 1.0f)}, 0.5, "layer");
  prune_lowest_scores(weights, {Tensor({0, 16}), Tensor({2, 2}, 1.0f)}, 0.5, "global");
  const nlohmann::json layers = layer_sparsity(weights);
  ASSERT_TRUE(layers["empty.weight"].is_number()) << layers.dump();
  EXPECT_EQ(layers["empty.weight"].get<double>(), 0.0);
  EXPECT_EQ(layers["full.weight"].get<double>(), 0.25);
  EXPECT_EQ(sparsity_of(empty), 0.0);
}

TEST(PruningSelection, TiesGoByPositionAndPrunedWeightsStayPruned) {
  Parameter p;
  p.name = "w";
  p.value = Tensor({8}, 1.0f);
  p.mask = Tensor({8}, 1.0f);
  p.mask[6] = 0.0f;
  prune_lowest_scores({&p}, {Tensor({8}, 2.0f)}, 0.5, "layer");
  const std::vector<float> expected{0, 0, 0, 1, 1, 1, 0, 1};
  for (int64_t i = 0; i < 8; ++i) EXPECT_EQ(p.mask[i], expected[static_cast<size_t>(i)]) << i;
}

}  // namespace
}  // namespace shrink
