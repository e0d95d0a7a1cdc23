// Per-layer sensitivity: each layer pruned alone (the others and the model given untouched), to
// exactly the sparsity asked, evaluated like evaluate() would; and clear errors for bad options.
#include "shrink/compress/sensitivity.hpp"
#include "shrink/nn/weights.hpp"
#include "shrink/train/evaluator.hpp"
#include "support/errors.hpp"
#include "support/trained_mlp.hpp"

#include <gtest/gtest.h>

namespace shrink {
namespace {

using testing::bad_input_message;

TEST(Sensitivity, EachLayerAloneAtEachSparsity) {
  testing::TrainedMlp mlp(32);
  const Model before = mlp.model.clone();
  SensitivityOptions options;
  options.sparsities = {0.0, 0.5, 0.99};
  const Sensitivity s = layer_sensitivity(mlp.model, mlp.data, mlp.context, options);
  ASSERT_EQ(s.layers.size(), 3u);
  EXPECT_EQ(s.layers[0].weight, "fc1.weight");
  EXPECT_EQ(s.layers[2].size, 4 * 32);
  EXPECT_DOUBLE_EQ(s.accuracy, mlp.accuracy());
  EXPECT_EQ(s.samples, 512);
  for (const LayerSensitivity& layer : s.layers) {
    EXPECT_DOUBLE_EQ(layer.accuracy[0], s.accuracy) << layer.weight;  // sparsity 0 changes nothing
    EXPECT_LT(layer.accuracy[2], s.accuracy) << layer.weight;          // 99% of one layer hurts
  }
  // The same numbers as pruning that one layer by hand and evaluating.
  Model fc2 = mlp.model.clone();
  PassContext context = mlp.context;
  make_pass("prune.magnitude", {{"sparsity", 0.5}, {"scope", "layer"},
                                {"exclude", {"fc1.weight", "fc3.weight"}}})->run(fc2, context);
  EXPECT_EQ(fc2.parameter("fc2.weight").value.numel() - fc2.parameter("fc2.weight").nonzeros(), 512);
  EXPECT_EQ(fc2.parameter("fc1.weight").nonzeros(), fc2.parameter("fc1.weight").value.numel());
  EXPECT_DOUBLE_EQ(s.layers[1].accuracy[1], evaluate(fc2, mlp.data).accuracy);
  // The model given is untouched.
  for (const Parameter* p : compressible_weights(before)) {
    EXPECT_EQ(mlp.model.parameter(p->name).value.flat(), p->value.flat());
    EXPECT_FALSE(mlp.model.parameter(p->name).has_mask());
  }
  const nlohmann::json json = s.to_json();
  EXPECT_EQ(json["criterion"], "prune.magnitude");
  EXPECT_DOUBLE_EQ(json["layers"][1]["accuracy_change"][1].get<double>(),
                   s.layers[1].accuracy[1] - s.accuracy);
}

TEST(Sensitivity, LossBasedCriteriaCalibrateOnTheContextsData) {
  testing::TrainedMlp mlp(16);
  SensitivityOptions options;
  options.sparsities = {0.9};
  options.criterion = "taylor";
  options.criterion_options = {{"samples", 128}};
  const Sensitivity s = layer_sensitivity(mlp.model, mlp.data, mlp.context, options);
  EXPECT_EQ(s.criterion, "prune.taylor");
  EXPECT_EQ(s.layers.size(), 3u);
}

TEST(Sensitivity, BadOptionsAreClearErrors) {
  testing::TrainedMlp mlp(8);
  const auto message = [&](const SensitivityOptions& options) {
    return bad_input_message([&] { layer_sensitivity(mlp.model, mlp.data, mlp.context, options); });
  };
  SensitivityOptions none;
  none.sparsities = {};
  EXPECT_NE(message(none).find("needs at least one sparsity"), std::string::npos);
  SensitivityOptions one;
  one.sparsities = {1.0};
  EXPECT_NE(message(one).find("each sparsity must be in [0, 1), got 1"), std::string::npos);
  SensitivityOptions unknown;
  unknown.criterion = "lottery";
  EXPECT_NE(message(unknown).find("prune.lottery"), std::string::npos);
  SensitivityOptions option;
  option.criterion_options = {{"samples", 5}};
  EXPECT_NE(message(option).find("unknown option 'samples'"), std::string::npos);
}

}  // namespace
}  // namespace shrink
