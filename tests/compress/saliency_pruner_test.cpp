// The criteria that look at the loss (prune.snip, prune.obd, prune.fisher, prune.taylor): each
// keeps exactly the weights an independent computation of its score ranks highest, prunes
// weights the loss does not see even when they are large, and shares the options of
// prune.magnitude.
#include "shrink/compress/pass.hpp"
#include "shrink/nn/loss.hpp"
#include "shrink/nn/weights.hpp"
#include "support/errors.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>

namespace shrink {
namespace {

using Scores = std::map<std::string, Tensor>;

// 4 classes of Gaussian blobs in 12 dimensions; feature 0 is always zero.
Dataset blobs(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> features;
  std::vector<int32_t> labels;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t label = static_cast<int32_t>(i % 4);
    for (int f = 0; f < 12; ++f)
      features.push_back(f == 0 ? 0.0f : rng.normal(f % 4 == label ? 1.5f : 0.0f, 0.7f));
    labels.push_back(label);
  }
  return Dataset::from_floats("blobs", {12}, std::move(features), std::move(labels), 4);
}

// fc1 (12 -> 10), relu, fc2 (10 -> 4), with the weights from the dead feature 0 made large.
Model mlp() {
  Model model = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {12}}}},
       {"nodes",
        {{{"name", "fc1"}, {"type", "Linear"}, {"attributes", {{"out_features", 10}}}},
         {{"name", "relu"}, {"type", "ReLU"}},
         {{"name", "fc2"}, {"type", "Linear"}, {"attributes", {{"out_features", 4}}}}}}});
  model.initialize(2);
  Tensor& w = model.parameter("fc1.weight").value;
  for (int64_t o = 0; o < 10; ++o) w[o * 12] = 5.0f;
  return model;
}

// The whole dataset as one batch.
void whole(const Dataset& data, Tensor& x, std::vector<int32_t>& labels) {
  std::vector<int64_t> all(static_cast<size_t>(data.size()));
  for (int64_t i = 0; i < data.size(); ++i) all[static_cast<size_t>(i)] = i;
  data.gather(all, x, labels);
}

// Gradients of the mean loss over `x` (inference mode), per weight.
Scores gradients(Model& model, const Tensor& x, const std::vector<int32_t>& labels,
                 bool training) {
  Tensor grad;
  cross_entropy(model.forward(x, training), labels, 0.0f, &grad);
  model.backward(grad, false);
  Scores g;
  for (const Parameter* p : compressible_weights(model)) g[p->name] = p->grad;
  return g;
}

// Every pruned weight scores at most every kept one (up to float rounding): over all weights for
// scope "global", within each tensor for scope "layer".
void expect_keeps_the_highest(const Model& pruned, const Scores& scores, const std::string& scope,
                              const std::string& what) {
  std::vector<std::vector<std::string>> groups;
  for (const auto& entry : scores) {
    if (scope == "layer" || groups.empty()) groups.emplace_back();
    groups.back().push_back(entry.first);
  }
  for (const auto& group : groups) {
    float highest_pruned = -1.0f, lowest_kept = 1e30f;
    for (const std::string& name : group) {
      const Parameter& p = pruned.parameter(name);
      const Tensor& score = scores.at(name);
      for (int64_t i = 0; i < score.numel(); ++i) {
        if (p.mask[i] == 0.0f) highest_pruned = std::max(highest_pruned, score[i]);
        else lowest_kept = std::min(lowest_kept, score[i]);
      }
    }
    EXPECT_GE(highest_pruned, 0.0f) << what << ": something is pruned in " << group[0];
    EXPECT_LE(highest_pruned, lowest_kept * (1.0f + 1e-4f) + 1e-12f) << what << " " << group[0];
  }
}

struct Criterion {
  std::string pass;
  // The score of every weight, computed here independently from its definition.
  std::function<Scores(Model&, const Dataset&)> score;
};

std::vector<Criterion> criteria() {
  return {
      {"prune.snip",
       [](Model& model, const Dataset& data) {
         Tensor x;
         std::vector<int32_t> labels;
         whole(data, x, labels);
         Scores s = gradients(model, x, labels, true);
         for (auto& [name, g] : s)
           g.flat() = g.flat().cwiseProduct(model.parameter(name).value.flat()).cwiseAbs();
         return s;
       }},
      {"prune.taylor",  // batch 1: a sum over samples of |g w|
       [](Model& model, const Dataset& data) {
         Scores s;
         for (int64_t i = 0; i < data.size(); ++i) {
           Tensor x;
           std::vector<int32_t> labels;
           data.gather({i}, x, labels);
           for (auto& [name, g] : gradients(model, x, labels, false)) {
             Tensor term = g;
             term.flat() = g.flat().cwiseProduct(model.parameter(name).value.flat()).cwiseAbs();
             if (s.count(name)) s[name].flat() += term.flat();
             else s[name] = term;
           }
         }
         return s;
       }},
      {"prune.fisher",
       [](Model& model, const Dataset& data) {
         Scores s;
         for (int64_t i = 0; i < data.size(); ++i) {
           Tensor x;
           std::vector<int32_t> labels;
           data.gather({i}, x, labels);
           for (auto& [name, g] : gradients(model, x, labels, false)) {
             Tensor term = g;
             term.flat() = g.flat().cwiseAbs2();
             if (s.count(name)) s[name].flat() += term.flat();
             else s[name] = term;
           }
         }
         for (auto& [name, f] : s)
           f.flat() = f.flat().cwiseProduct(model.parameter(name).value.flat().cwiseAbs2());
         return s;
       }},
      {"prune.obd",  // the recursion of the paper, written out for fc2(relu(fc1(x)))
       [](Model& model, const Dataset& data) {
         Tensor x;
         std::vector<int32_t> labels;
         whole(data, x, labels);
         const Tensor logits = model.forward(x, false);
         const Tensor& hidden = model.value("relu");
         const Tensor& pre = model.value("fc1");
         const Tensor& w2 = model.parameter("fc2.weight").value;
         const int64_t n = x.dim(0);
         Tensor h1({10, 12}), h2({4, 10});
         for (int64_t s = 0; s < n; ++s) {
           double d2z[4];
           double top = -1e30, sum = 0.0;
           for (int k = 0; k < 4; ++k) top = std::max(top, static_cast<double>(logits[s * 4 + k]));
           for (int k = 0; k < 4; ++k) sum += std::exp(logits[s * 4 + k] - top);
           for (int k = 0; k < 4; ++k) {
             const double p = std::exp(logits[s * 4 + k] - top) / sum;
             d2z[k] = p * (1 - p);
           }
           for (int k = 0; k < 4; ++k)
             for (int j = 0; j < 10; ++j)
               h2[k * 10 + j] += static_cast<float>(d2z[k] * hidden[s * 10 + j] * hidden[s * 10 + j]);
           for (int j = 0; j < 10; ++j) {
             if (pre[s * 10 + j] <= 0.0f) continue;
             double d2h = 0.0;
             for (int k = 0; k < 4; ++k) d2h += d2z[k] * w2[k * 10 + j] * w2[k * 10 + j];
             for (int i = 0; i < 12; ++i)
               h1[j * 12 + i] += static_cast<float>(d2h * x[s * 12 + i] * x[s * 12 + i]);
           }
         }
         Scores s{{"fc1.weight", h1}, {"fc2.weight", h2}};
         for (auto& [name, h] : s)
           h.flat() = h.flat().cwiseProduct(model.parameter(name).value.flat().cwiseAbs2());
         return s;
       }},
  };
}

TEST(SaliencyPruners, KeepTheWeightsTheirScoreRanksHighest) {
  const Dataset data = blobs(48, 1);
  for (const Criterion& c : criteria()) {
    for (const std::string scope : {"global", "layer"}) {
      Model model = mlp();
      Model reference = model.clone();
      const Scores scores = c.score(reference, data);
      PassContext context;
      context.train = &data;
      // batch 1 for Taylor, whose sum of magnitudes depends on how samples are batched.
      make_pass(c.pass, {{"sparsity", 0.6}, {"scope", scope}, {"batch", 1}})->run(model, context);
      expect_keeps_the_highest(model, scores, scope, c.pass + " " + scope);
      EXPECT_NEAR(weight_sparsity(model).sparsity(), 0.6, 0.01) << c.pass;
      EXPECT_EQ(context.sections[0]["options"]["samples"], 1024);
      ASSERT_TRUE(context.sections[0]["layer_sparsity"].contains("fc1.weight"));
    }
  }
}

// The weights from a feature that is always zero are the largest, so magnitude keeps them; no
// loss-based score can see them, so every other criterion prunes them first.
TEST(SaliencyPruners, PruneLargeWeightsTheLossDoesNotSee) {
  const Dataset data = blobs(64, 2);
  for (const std::string pass :
       {"prune.magnitude", "prune.snip", "prune.obd", "prune.fisher", "prune.taylor"}) {
    Model model = mlp();
    PassContext context;
    context.train = &data;
    make_pass(pass, {{"sparsity", 0.2}, {"scope", "layer"}})->run(model, context);
    int64_t dead_kept = 0;
    for (int64_t o = 0; o < 10; ++o) dead_kept += model.parameter("fc1.weight").mask[o * 12] != 0.0f;
    EXPECT_EQ(dead_kept, pass == "prune.magnitude" ? 10 : 0) << pass;
  }
}

TEST(SaliencyPruners, LeaveTheModelTheyScoreUntouchedApartFromTheMasks) {
  const Dataset data = blobs(32, 3);
  Model model = mlp();
  model.forward(Tensor({2, 12}), false);
  const Tensor before = model.parameter("fc2.weight").value;
  PassContext context;
  context.train = &data;
  make_pass("prune.snip", {{"sparsity", 0.5}})->run(model, context);
  const Parameter& w = model.parameter("fc2.weight");
  for (int64_t i = 0; i < w.value.numel(); ++i)
    EXPECT_EQ(w.value[i], w.mask[i] == 0.0f ? 0.0f : before[i]);
}

// rescale=true keeps the same connections as without it and scales each layer's survivors by one
// factor, so that their sum of squares is the whole layer's before pruning.
TEST(SaliencyPruners, SnipRescaleKeepsEachLayersSumOfSquares) {
  const Dataset data = blobs(32, 3);
  Model plain = mlp();
  Model rescaled = plain.clone();
  const Model before = plain.clone();
  PassContext context;
  context.train = &data;
  make_pass("prune.snip", {{"sparsity", 0.7}})->run(plain, context);
  make_pass("prune.snip", {{"sparsity", 0.7}, {"rescale", true}})->run(rescaled, context);
  EXPECT_EQ(context.sections[1]["options"]["rescale"], true);
  for (const std::string name : {"fc1.weight", "fc2.weight"}) {
    const Parameter& p = plain.parameter(name);
    const Parameter& r = rescaled.parameter(name);
    double initial = 0.0, kept = 0.0, unscaled = 0.0;
    for (int64_t i = 0; i < p.value.numel(); ++i) {
      initial += std::pow(before.parameter(name).value[i], 2.0);
      kept += std::pow(r.value[i], 2.0);
      unscaled += std::pow(p.value[i], 2.0);
    }
    EXPECT_NEAR(kept, initial, 1e-4 * initial) << name;
    EXPECT_LT(unscaled, 0.9 * initial) << name;
    const float factor = static_cast<float>(std::sqrt(initial / unscaled));
    for (int64_t i = 0; i < p.value.numel(); ++i) {
      EXPECT_EQ(r.mask[i], p.mask[i]) << name << " " << i;
      EXPECT_NEAR(r.value[i], factor * p.value[i], 1e-5f) << name << " " << i;
    }
  }
}

// steps=3 to 60% is the same as three passes to 20%, 40% and 60%: each step scores the weights
// the previous one left (pruned weights are zero, so the gradients change).
TEST(SaliencyPruners, StepsRescoreWhatTheEarlierStepsLeft) {
  const Dataset data = blobs(48, 5);
  Model stepped = mlp();
  Model by_hand = stepped.clone();
  Model one_shot = stepped.clone();
  PassContext context;
  context.train = &data;
  make_pass("prune.snip", {{"sparsity", 0.6}, {"steps", 3}})->run(stepped, context);
  EXPECT_EQ(context.sections[0]["options"]["steps"], 3);
  for (const double s : {0.2, 0.4, 0.6}) make_pass("prune.snip", {{"sparsity", s}})->run(by_hand, context);
  make_pass("prune.snip", {{"sparsity", 0.6}})->run(one_shot, context);
  int64_t differ_from_one_shot = 0;
  for (const std::string name : {"fc1.weight", "fc2.weight"}) {
    const Tensor& mask = stepped.parameter(name).mask;
    for (int64_t i = 0; i < mask.numel(); ++i) {
      EXPECT_EQ(mask[i], by_hand.parameter(name).mask[i]) << name << " " << i;
      differ_from_one_shot += mask[i] != one_shot.parameter(name).mask[i];
    }
  }
  EXPECT_GT(differ_from_one_shot, 0);
  EXPECT_NE(testing::bad_input_message([] { make_pass("prune.snip", {{"steps", 0}}); })
                .find("steps must be in [1, 1000]"),
            std::string::npos);
}

// schedule=geometric keeps the same fraction of the weights at each step: to 75% in two steps
// is 50% (density 0.25^(1/2)), then 75%.
TEST(SaliencyPruners, GeometricStepsKeepTheSameFractionAtEachStep) {
  const Dataset data = blobs(48, 5);
  Model stepped = mlp();
  Model by_hand = stepped.clone();
  PassContext context;
  context.train = &data;
  make_pass("prune.snip", {{"sparsity", 0.75}, {"steps", 2}, {"schedule", "geometric"}})
      ->run(stepped, context);
  EXPECT_EQ(context.sections[0]["options"]["schedule"], "geometric");
  for (const double s : {0.5, 0.75}) make_pass("prune.snip", {{"sparsity", s}})->run(by_hand, context);
  for (const std::string name : {"fc1.weight", "fc2.weight"}) {
    const Tensor& mask = stepped.parameter(name).mask;
    for (int64_t i = 0; i < mask.numel(); ++i)
      EXPECT_EQ(mask[i], by_hand.parameter(name).mask[i]) << name << " " << i;
  }
  EXPECT_NE(testing::bad_input_message([] { make_pass("prune.snip", {{"schedule", "cubic"}}); })
                .find("schedule must be 'linear' or 'geometric'"),
            std::string::npos);
}

// regrow (FORCE): every step ranks all the weights on the gradient of the network its masks
// leave, so a weight the first step pruned can come back, at its initial value; without it
// masks only shrink.
TEST(SaliencyPruners, SnipRegrowCanBringBackWeightsAnEarlierStepPruned) {
  const Dataset data = blobs(48, 5);
  const Model initial = mlp();
  Model first = initial.clone(), regrown = initial.clone(), one_shot = initial.clone();
  PassContext context;
  context.train = &data;
  make_pass("prune.snip", {{"sparsity", 0.4}})->run(first, context);
  make_pass("prune.snip", {{"sparsity", 0.8}, {"steps", 2}, {"regrow", true}})->run(regrown, context);
  make_pass("prune.snip", {{"sparsity", 0.8}})->run(one_shot, context);
  EXPECT_EQ(context.sections[1]["options"]["regrow"], true);
  int64_t back = 0, differ_from_one_shot = 0, kept = 0, total = 0;
  for (const std::string name : {"fc1.weight", "fc2.weight"}) {
    const Parameter& p = regrown.parameter(name);
    for (int64_t i = 0; i < p.mask.numel(); ++i) {
      back += p.mask[i] != 0.0f && first.parameter(name).mask[i] == 0.0f;
      differ_from_one_shot += p.mask[i] != one_shot.parameter(name).mask[i];
      kept += p.mask[i] != 0.0f;
      EXPECT_EQ(p.value[i], p.mask[i] != 0.0f ? initial.parameter(name).value[i] : 0.0f)
          << name << " " << i;
    }
    total += p.mask.numel();
  }
  EXPECT_GT(back, 0);
  EXPECT_GT(differ_from_one_shot, 0);
  EXPECT_EQ(kept, total - std::llround(0.8 * static_cast<double>(total)));
  EXPECT_NE(testing::bad_input_message([] { make_pass("prune.taylor", {{"regrow", true}}); })
                .find("regrow needs a criterion that scores pruned weights"),
            std::string::npos);
}

TEST(SaliencyPruners, NeedCalibrationDataAndCheckTheirOptions) {
  for (const std::string pass : {"prune.snip", "prune.obd", "prune.fisher", "prune.taylor"}) {
    Model model = mlp();
    PassContext context;
    const std::string message = testing::bad_input_message(
        [&] { make_pass(pass, {{"sparsity", 0.5}})->run(model, context); });
    EXPECT_NE(message.find("training data"), std::string::npos) << message;
    EXPECT_NE(message.find("pass " + pass), std::string::npos) << message;
    EXPECT_NE(testing::bad_input_message([&] { make_pass(pass, {{"samples", 0}}); })
                  .find("samples must be positive"),
              std::string::npos);
    EXPECT_NE(testing::bad_input_message([&] { make_pass(pass, {{"sample", 10}}); })
                  .find("unknown option 'sample'"),
              std::string::npos);
    EXPECT_NE(testing::bad_input_message([&] { make_pass(pass, {{"scope", "row"}}); })
                  .find("scope must be"),
              std::string::npos);
  }
}

TEST(SaliencyPruners, WorkOnConvolutionalNetworks) {
  Rng rng(4);
  std::vector<float> images;
  std::vector<int32_t> labels;
  for (int i = 0; i < 32; ++i) {
    for (int p = 0; p < 64; ++p) images.push_back(rng.uniform(0.0f, 1.0f));
    labels.push_back(i % 3);
  }
  const Dataset data =
      Dataset::from_floats("images", {1, 8, 8}, std::move(images), std::move(labels), 3);
  for (const std::string pass : {"prune.snip", "prune.obd", "prune.fisher", "prune.taylor"}) {
    Model model = Model::from_graph_json(
        {{"input", {{"name", "x"}, {"shape", {1, 8, 8}}}},
         {"nodes",
          {{{"name", "conv"}, {"type", "Conv2d"}, {"attributes", {{"out_channels", 4}, {"kernel_size", 3}}}},
           {{"name", "bn"}, {"type", "BatchNorm2d"}},
           {{"name", "relu"}, {"type", "ReLU"}},
           {{"name", "pool"}, {"type", "MaxPool2d"}, {"attributes", {{"kernel_size", 2}}}},
           {{"name", "flat"}, {"type", "Flatten"}},
           {{"name", "fc"}, {"type", "Linear"}, {"attributes", {{"out_features", 3}}}}}}});
    model.initialize(5);
    PassContext context;
    context.train = &data;
    make_pass(pass, {{"sparsity", 0.7}})->run(model, context);
    EXPECT_NEAR(weight_sparsity(model).sparsity(), 0.7, 0.01) << pass;
  }
}

}  // namespace
}  // namespace shrink
