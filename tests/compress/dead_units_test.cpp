// The "reclaim" option of the unstructured pruning passes: weights left on hidden units that
// keep no input or no output go to the next-ranked connections between live units, for Linear
// chains and for the channels a Flatten spreads over a Linear layer's columns.
#include "shrink/compress/pass.hpp"
#include "support/errors.hpp"
#include "support/small_models.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace shrink {
namespace {

// Sets the weights of row `row` (axis 0) or column `col` (axis 1) of a 2-D weight to `magnitude`,
// keeping their signs.
void set_row(Parameter& w, int64_t row, float magnitude) {
  const int64_t cols = w.value.shape()[1];
  for (int64_t c = 0; c < cols; ++c) {
    float& v = w.value[row * cols + c];
    v = std::copysign(magnitude * (1.0f + 0.01f * static_cast<float>(c)), v);
  }
}
void set_column(Parameter& w, int64_t col, float magnitude) {
  const int64_t rows = w.value.shape()[0], cols = w.value.shape()[1];
  for (int64_t r = 0; r < rows; ++r) {
    float& v = w.value[r * cols + col];
    v = std::copysign(magnitude * (1.0f + 0.01f * static_cast<float>(r)), v);
  }
}

bool any_kept(const Parameter& w, int64_t row, int64_t col) {  // one of them is -1
  const int64_t rows = w.value.shape()[0], cols = w.value.shape()[1];
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      if ((r == row || c == col) && w.mask[r * cols + c] != 0.0f) return true;
  return false;
}

int64_t kept(const Model& model) {
  int64_t n = 0;
  for (const std::string name : {"fc1.weight", "fc2.weight", "fc3.weight"})
    n += model.parameter(name).nonzeros();
  return n;
}

// 8 -> 6 -> 5 -> 3: fc1's unit 0 has tiny inputs and large outputs, fc2's unit 1 the same, so
// magnitude pruning cuts their inputs and keeps their outputs.
Model chain_with_doomed_units() {
  Model model = testing::linear_relu_chain({8, 6, 5, 3}, 3);
  set_row(model.parameter("fc1.weight"), 0, 1e-4f);
  set_column(model.parameter("fc2.weight"), 0, 5.0f);
  set_row(model.parameter("fc2.weight"), 1, 1e-4f);
  set_column(model.parameter("fc3.weight"), 1, 5.0f);
  return model;
}

TEST(DeadUnits, ReclaimGivesTheWeightsOfCutOffUnitsToTheNextRankedLiveConnections) {
  Model plain = chain_with_doomed_units();
  Model reclaimed = plain.clone();
  const Model original = plain.clone();
  PassContext context;
  make_pass("prune.magnitude", {{"sparsity", 0.5}})->run(plain, context);
  make_pass("prune.magnitude", {{"sparsity", 0.5}, {"reclaim", true}})->run(reclaimed, context);
  const nlohmann::json& plain_report = context.sections[0];
  const nlohmann::json& report = context.sections[1];

  // Without reclaim the doomed units keep their outputs: the weights spent on nothing.
  EXPECT_FALSE(any_kept(plain.parameter("fc1.weight"), 0, -1));
  EXPECT_TRUE(any_kept(plain.parameter("fc2.weight"), -1, 0));
  EXPECT_TRUE(any_kept(plain.parameter("fc3.weight"), -1, 1));
  EXPECT_EQ(plain_report["dead_units"]["fc1"], 1);
  EXPECT_GE(plain_report["dead_units"]["fc2"].get<int>(), 1);
  EXPECT_EQ(plain_report["options"]["reclaim"], false);
  EXPECT_FALSE(plain_report.contains("reclaimed_weights"));

  // With it, no hidden unit holds a weight unless it keeps both inputs and outputs, and as many
  // weights are kept.
  EXPECT_EQ(kept(reclaimed), kept(plain));
  const char* layers[] = {"fc1.weight", "fc2.weight", "fc3.weight"};
  const int64_t widths[] = {6, 5};
  for (int l = 0; l < 2; ++l) {
    for (int64_t u = 0; u < widths[l]; ++u) {
      const bool in = any_kept(reclaimed.parameter(layers[l]), u, -1);
      const bool out = any_kept(reclaimed.parameter(layers[l + 1]), -1, u);
      EXPECT_EQ(in, out) << layers[l] << " unit " << u;
    }
  }
  EXPECT_FALSE(any_kept(reclaimed.parameter("fc2.weight"), -1, 0));
  EXPECT_FALSE(any_kept(reclaimed.parameter("fc3.weight"), -1, 1));
  EXPECT_EQ(report["dead_units_without_reclaim"], plain_report["dead_units"]);
  EXPECT_GT(report["reclaimed_weights"].get<int64_t>(), 0);

  // The kept weights are the largest of those outside the dead units' rows and columns.
  std::vector<char> dead1(6), dead2(5);
  for (int64_t u = 0; u < 6; ++u) dead1[u] = !any_kept(reclaimed.parameter("fc1.weight"), u, -1);
  for (int64_t u = 0; u < 5; ++u) dead2[u] = !any_kept(reclaimed.parameter("fc2.weight"), u, -1);
  EXPECT_TRUE(dead1[0] && dead2[1]);
  float lowest_kept = 1e30f, highest_pruned = -1.0f;
  for (int l = 0; l < 3; ++l) {
    const Parameter& p = reclaimed.parameter(layers[l]);
    const Tensor& w = original.parameter(layers[l]).value;
    const int64_t cols = w.shape()[1];
    for (int64_t i = 0; i < w.numel(); ++i) {
      const int64_t r = i / cols, c = i % cols;
      const bool dead = (l == 0 && dead1[r]) || (l == 1 && (dead1[c] || dead2[r])) ||
                        (l == 2 && dead2[c]);
      if (dead) continue;
      if (p.mask[i] != 0.0f) lowest_kept = std::min(lowest_kept, std::abs(w[i]));
      else highest_pruned = std::max(highest_pruned, std::abs(w[i]));
    }
  }
  EXPECT_GE(lowest_kept, highest_pruned);
}

TEST(DeadUnits, FollowAChannelThroughFlattenToTheColumnsItBecomes) {
  // conv (1 -> 4 channels, 8x8 -> 6x6), relu, pool (3x3), flatten (36 = 4 channels x 9), fc.
  Model model = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {1, 8, 8}}}},
       {"nodes",
        {{{"name", "conv"}, {"type", "Conv2d"}, {"attributes", {{"out_channels", 4}, {"kernel_size", 3}}}},
         {{"name", "relu"}, {"type", "ReLU"}},
         {{"name", "pool"}, {"type", "MaxPool2d"}, {"attributes", {{"kernel_size", 2}}}},
         {{"name", "flat"}, {"type", "Flatten"}},
         {{"name", "fc"}, {"type", "Linear"}, {"attributes", {{"out_features", 3}}}}}}});
  model.initialize(7);
  Tensor& filters = model.parameter("conv.weight").value;  // [4, 1, 3, 3]
  for (int64_t i = 0; i < 9; ++i) filters[2 * 9 + i] = 1e-4f;  // channel 2: tiny filter
  Parameter& fc = model.parameter("fc.weight");                 // [3, 36]
  for (int64_t c = 18; c < 27; ++c) set_column(fc, c, 5.0f);    // channel 2's columns: large
  Model plain = model.clone();
  PassContext context;
  make_pass("prune.magnitude", {{"sparsity", 0.4}})->run(plain, context);
  make_pass("prune.magnitude", {{"sparsity", 0.4}, {"reclaim", true}})->run(model, context);
  EXPECT_EQ(context.sections[0]["dead_units"], (nlohmann::json{{"conv", 1}}));
  int64_t plain_kept = 0, kept_there = 0;
  for (int64_t c = 18; c < 27; ++c) {
    plain_kept += any_kept(plain.parameter("fc.weight"), -1, c);
    kept_there += any_kept(model.parameter("fc.weight"), -1, c);
  }
  EXPECT_EQ(plain_kept, 9);
  EXPECT_EQ(kept_there, 0);
  EXPECT_EQ(model.parameter("conv.weight").nonzeros() + model.parameter("fc.weight").nonzeros(),
            plain.parameter("conv.weight").nonzeros() + plain.parameter("fc.weight").nonzeros());
}

TEST(DeadUnits, ReclaimIsABooleanOption) {
  EXPECT_NE(testing::bad_input_message([] { make_pass("prune.magnitude", {{"reclaim", "yes"}}); })
                .find("reclaim"),
            std::string::npos);
}

}  // namespace
}  // namespace shrink
