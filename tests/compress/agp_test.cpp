// agp (gradual magnitude pruning, Zhu & Gupta 2017): the cubic schedule on hand-computed points,
// and the term in a training run — pruning at the scheduled steps to exactly the scheduled
// count, masks that only grow, the final sparsity reached, and clear errors for bad options.
#include "../../src/compress/prune/sparsity_schedules.hpp"
#include "shrink/compress/pass.hpp"
#include "shrink/nn/weights.hpp"
#include "shrink/train/trainer.hpp"
#include "support/blobs.hpp"
#include "support/errors.hpp"
#include "support/small_models.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace shrink {
namespace {

using testing::bad_input_message;

Model mlp(uint64_t seed) { return testing::linear_relu_chain({8, 32, 4}, seed); }

int64_t zeros(const Parameter& p) { return p.value.numel() - p.nonzeros(); }

TEST(AgpSchedule, FollowsTheCubicOnHandComputedPoints) {
  // s_t = s_f + (s_i - s_f)(1 - (t - t0)/(t1 - t0))^3 with t0 = 100, t1 = 200.
  EXPECT_DOUBLE_EQ(agp_sparsity(0.0, 0.9, 100, 200, 0), 0.0);     // before the ramp: s_i
  EXPECT_DOUBLE_EQ(agp_sparsity(0.0, 0.9, 100, 200, 100), 0.0);   // its first step: s_i
  EXPECT_DOUBLE_EQ(agp_sparsity(0.0, 0.9, 100, 200, 125), 0.9 - 0.9 * 0.421875);  // (3/4)^3
  EXPECT_DOUBLE_EQ(agp_sparsity(0.0, 0.9, 100, 200, 150), 0.7875);  // 0.9 - 0.9/8
  EXPECT_DOUBLE_EQ(agp_sparsity(0.0, 0.9, 100, 200, 200), 0.9);
  EXPECT_DOUBLE_EQ(agp_sparsity(0.0, 0.9, 100, 200, 5000), 0.9);  // after it: s_f
  EXPECT_DOUBLE_EQ(agp_sparsity(0.5, 0.9, 100, 200, 150), 0.85);  // 0.9 - 0.4/8
  EXPECT_DOUBLE_EQ(agp_sparsity(0.0, 0.8, 7, 7, 7), 0.8);         // an empty ramp jumps
}

// Checks, before every forward pass (after agp's own hook), that the weights carry exactly the
// schedule's count of zeros and that no weight pruned before came back.
class Watcher final : public TrainingTerm {
 public:
  Watcher(double final, int64_t start, int64_t end, int64_t frequency)
      : final_(final), start_(start), end_(end), frequency_(frequency) {}
  std::string name() const override { return "watcher"; }
  void begin(Model& model, const TrainConfig&, int64_t) override {
    weights_ = compressible_weights(model);
    for (const Parameter* p : weights_) total_ += p->value.numel();
  }
  void before_forward(Model&, const TrainStep& step) override {
    // The schedule's target holds from the last pruning step on.
    int64_t last = -1;
    if (step.step >= start_)
      last = step.step >= end_ ? end_ : start_ + (step.step - start_) / frequency_ * frequency_;
    const double target = last < 0 ? 0.0 : agp_sparsity(0.0, final_, start_, end_, last);
    int64_t pruned = 0;
    for (size_t t = 0; t < weights_.size(); ++t) {
      const Parameter& p = *weights_[t];
      if (!p.has_mask()) continue;
      for (int64_t i = 0; i < p.value.numel(); ++i) {
        pruned += p.mask[i] == 0.0f;
        if (p.mask[i] == 0.0f) EXPECT_EQ(p.value[i], 0.0f) << p.name << " step " << step.step;
      }
      if (!previous_.empty())
        for (int64_t i = 0; i < p.value.numel(); ++i)
          if (previous_[t][i] == 0.0f) EXPECT_EQ(p.mask[i], 0.0f) << "a pruned weight came back";
    }
    EXPECT_EQ(pruned, std::llround(target * static_cast<double>(total_))) << "step " << step.step;
    previous_.clear();
    for (const Parameter* p : weights_) previous_.push_back(p->mask);
    ++checked_;
  }
  int checked_ = 0;

 private:
  double final_;
  int64_t start_, end_, frequency_;
  int64_t total_ = 0;
  std::vector<Parameter*> weights_;
  std::vector<Tensor> previous_;
};

TrainConfig config(int epochs) {
  TrainConfig c;
  c.epochs = epochs;
  c.batch_size = 16;  // 256 samples: 16 steps an epoch
  c.lr = 0.05f;
  return c;
}

TEST(AgpTerm, PrunesToTheScheduleAtEveryPruningStepAndMasksOnlyGrow) {
  Model model = mlp(1);
  const Dataset data = testing::gaussian_blobs(256, 2, 4, 8, 2);
  // start at epoch 0.5 (step 8), end at epoch 3 (step 48), every 5 steps.
  auto agp = make_training_term(
      "agp", {{"sparsity", 0.8}, {"start", 0.5}, {"end", 3}, {"frequency", 5}});
  auto watcher = std::make_shared<Watcher>(0.8, 8, 48, 5);
  const TrainResult result = train(model, data, config(4), {}, {}, {agp, watcher});
  EXPECT_EQ(watcher->checked_, 64);
  // The final sparsity holds to the end, and the network still learnt the blobs.
  EXPECT_EQ(zeros(model.parameter("fc1.weight")) + zeros(model.parameter("fc2.weight")),
            std::llround(0.8 * (32 * 8 + 4 * 32)));
  EXPECT_GT(result.history.back().train_accuracy, 0.9);
  const nlohmann::json& report = result.history[1].term_reports.at("agp");
  EXPECT_DOUBLE_EQ(report.at("target_sparsity").get<double>(),
                   agp_sparsity(0.0, 0.8, 8, 48, 28));  // the last pruning of epoch 2: step 28
  EXPECT_NEAR(report.at("sparsity").get<double>(), report.at("target_sparsity").get<double>(), 0.01);
}

TEST(AgpTerm, LayerScopePrunesEveryLayerAlikeAndARampToTheRunsEndEndsAtTheTarget) {
  Model model = mlp(3);
  const Dataset data = testing::gaussian_blobs(256, 4, 4, 8, 2);
  // end = the run's 2 epochs: the last pruning falls after the last step.
  auto agp = make_training_term("agp", {{"sparsity", 0.75}, {"end", 2}, {"scope", "layer"}});
  const TrainResult result = train(model, data, config(2), {}, {}, {agp});
  EXPECT_EQ(zeros(model.parameter("fc1.weight")), 192);  // 0.75 of 256
  EXPECT_EQ(zeros(model.parameter("fc2.weight")), 96);   // 0.75 of 128
  EXPECT_EQ(model.parameter("fc1.bias").mask.numel(), 0);  // biases stay dense
  EXPECT_DOUBLE_EQ(result.history.back().term_reports["agp"]["target_sparsity"].get<double>(), 0.75);
}

TEST(AgpTerm, SameSeedSameMasks) {
  const Dataset data = testing::gaussian_blobs(256, 5, 4, 8, 2);
  Model a = mlp(7), b = mlp(7);
  train(a, data, config(2), {}, {}, {make_training_term("agp", {{"sparsity", 0.9}})});
  train(b, data, config(2), {}, {}, {make_training_term("agp", {{"sparsity", 0.9}})});
  for (const char* name : {"fc1.weight", "fc2.weight"}) {
    EXPECT_EQ(a.parameter(name).mask.flat(), b.parameter(name).mask.flat());
    EXPECT_EQ(a.parameter(name).value.flat(), b.parameter(name).value.flat());
  }
}

TEST(AgpTerm, BadOptionsAreClearErrors) {
  EXPECT_NE(bad_input_message([] { make_training_term("agp", {{"sparsity", 1.0}}); })
                .find("sparsity must be in [0, 1)"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] {
              make_training_term("agp", {{"sparsity", 0.5}, {"initial_sparsity", 0.6}});
            }).find("initial_sparsity must be in [0, sparsity"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] { make_training_term("agp", {{"start", 3}, {"end", 2}}); })
                .find("end (an epoch) must be >= start"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] { make_training_term("agp", {{"frequency", 0}}); })
                .find("frequency (steps between prunings) must be >= 1"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] { make_training_term("agp", {{"freqency", 10}}); })
                .find("unknown option 'freqency'"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] { make_training_term("agp", {{"scope", "row"}}); })
                .find("scope must be 'layer' or 'global'"),
            std::string::npos);
  // An end past the run is caught before the first step.
  Model model = mlp(1);
  const Dataset data = testing::gaussian_blobs(64, 2, 4, 8, 2);
  EXPECT_NE(bad_input_message([&] {
              train(model, data, config(2), {}, {}, {make_training_term("agp", {{"end", 5}})});
            }).find("end = 5 lies past the run's 2 epochs"),
            std::string::npos);
}

}  // namespace
}  // namespace shrink
