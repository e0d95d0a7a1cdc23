// Per-layer sparsities of the unstructured pruning passes: given as "layer_sparsity" or chosen
// from a shrink sensitivity report ("sparsity_from", "max_loss"), each layer pruned to exactly
// its own; and clear errors for names, values and files that do not fit.
#include "../../src/compress/prune/layer_sparsity.hpp"
#include "shrink/compress/pass.hpp"
#include "support/errors.hpp"
#include "support/small_models.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

namespace shrink {
namespace {

using testing::bad_input_message;

// fc1 (16 -> 32), fc2 (32 -> 8), fc3 (8 -> 4).
Model small_mlp() { return testing::linear_relu_chain({16, 32, 8, 4}, 1); }

int64_t zeros(const Parameter& p) { return p.value.numel() - p.nonzeros(); }

// As shrink sensitivity writes it (Sensitivity::to_json), with the fields the choice reads.
const nlohmann::json kReport = {
    {"sparsities", {0.5, 0.7, 0.9}},
    {"layers",
     {{{"weight", "fc1.weight"}, {"accuracy_change", {0.0, -0.004, -0.02}}},
      {{"weight", "fc2.weight"}, {"accuracy_change", {-0.01, -0.03, -0.2}}},
      {{"weight", "fc3.weight"}, {"accuracy_change", {0.001, 0.0, -0.005}}}}}};

TEST(LayerSparsity, ChoosesEachLayersHighestSparsityWithinTheLoss) {
  const auto chosen = sparsities_from_sensitivity(kReport, 0.005);
  EXPECT_DOUBLE_EQ(chosen.at("fc1.weight"), 0.7);  // 0.9 lost 2 points
  EXPECT_DOUBLE_EQ(chosen.at("fc2.weight"), 0.0);  // even 0.5 lost 1 point: left dense
  EXPECT_DOUBLE_EQ(chosen.at("fc3.weight"), 0.9);  // a loss of exactly max_loss is allowed
  EXPECT_DOUBLE_EQ(sparsities_from_sensitivity(kReport, 0.05).at("fc2.weight"), 0.7);
}

TEST(LayerSparsity, EachLayerIsPrunedToItsOwnSparsity) {
  Model model = small_mlp();
  PassContext context;
  // By node or weight name; unlisted layers take "sparsity".
  make_pass("prune.magnitude", {{"sparsity", 0.25}, {"layer_sparsity", {{"fc1", 0.75}, {"fc2.weight", 0.5}}}})
      ->run(model, context);
  EXPECT_EQ(zeros(model.parameter("fc1.weight")), 384);  // 0.75 of 512
  EXPECT_EQ(zeros(model.parameter("fc2.weight")), 128);  // 0.5 of 256
  EXPECT_EQ(zeros(model.parameter("fc3.weight")), 8);    // 0.25 of 32
  EXPECT_EQ(context.sections[0]["options"]["layer_sparsity"]["fc1"], 0.75);

  testing::TempDir dir;
  const std::string path = dir.file("sensitivity.json");
  std::ofstream(path) << kReport.dump();
  Model from_file = small_mlp();
  make_pass("prune.magnitude", {{"sparsity_from", path}, {"max_loss", 0.005},
                                {"layer_sparsity", {{"fc2", 0.25}}}})
      ->run(from_file, context);
  EXPECT_EQ(zeros(from_file.parameter("fc1.weight")), std::llround(0.7 * 512));
  EXPECT_EQ(zeros(from_file.parameter("fc2.weight")), 64);  // given directly: overrides the report
  EXPECT_EQ(zeros(from_file.parameter("fc3.weight")), std::llround(0.9 * 32));
}

TEST(LayerSparsity, BadNamesValuesAndFilesAreClearErrors) {
  const auto message = [](const nlohmann::json& options) {
    return bad_input_message([&] {
      Model model = small_mlp();
      PassContext context;
      make_pass("prune.magnitude", options)->run(model, context);
    });
  };
  EXPECT_NE(message({{"layer_sparsity", {{"fc9", 0.5}}}})
                .find("layer_sparsity names 'fc9', which is none of the weights it prunes (fc1.weight, "
                      "fc2.weight, fc3.weight)"),
            std::string::npos);
  EXPECT_NE(message({{"layer_sparsity", {{"fc1", 1.0}}}}).find("layer_sparsity of fc1 must be in [0, 1)"),
            std::string::npos);
  EXPECT_NE(message({{"layer_sparsity", {{"fc1", 0.5}}}, {"scope", "global"}})
                .find("per-layer sparsities prune each layer on its own; give scope 'layer'"),
            std::string::npos);
  EXPECT_NE(message({{"sparsity_from", "/nonexistent/sensitivity.json"}}).find("/nonexistent/sensitivity.json"),
            std::string::npos);
  EXPECT_NE(message({{"max_loss", -0.1}}).find("max_loss (an accuracy drop, as a fraction) must be in [0, 1]"),
            std::string::npos);
  testing::TempDir dir;
  std::ofstream(dir.file("other.json")) << R"({"accuracy": 0.9})";
  EXPECT_NE(message({{"sparsity_from", dir.file("other.json")}}).find("not a shrink sensitivity report"),
            std::string::npos);
}

}  // namespace
}  // namespace shrink
