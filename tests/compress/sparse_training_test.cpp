// set and rigl (sparse training from scratch): the per-layer densities and the update fraction on
// hand-computed points; in training runs, masks that keep their exact counts through every
// drop-and-regrow, regrown weights that start at zero, the same masks for the same seed; RigL's
// growth at the largest gradients on a hand-made layer; and clear errors for bad options.
#include "../../src/compress/prune/sparsity_schedules.hpp"
#include "shrink/compress/pass.hpp"
#include "shrink/nn/weights.hpp"
#include "shrink/train/trainer.hpp"
#include "support/blobs.hpp"
#include "support/errors.hpp"
#include "support/small_models.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

namespace shrink {
namespace {

using testing::bad_input_message;

Model mlp(uint64_t seed) { return testing::linear_relu_chain({8, 32, 4}, seed); }

int64_t ones(const Tensor& mask) {
  int64_t n = 0;
  for (float m : mask) n += m != 0.0f;
  return n;
}

TrainConfig config(int epochs) {
  TrainConfig c;
  c.epochs = epochs;
  c.batch_size = 16;  // 256 samples: 16 steps an epoch
  c.lr = 0.05f;
  return c;
}

TEST(SparseTrainingSchedule, UpdateFractionDecaysAlongACosine) {
  EXPECT_DOUBLE_EQ(cosine_update_fraction(0.3, 0, 1000), 0.3);
  EXPECT_DOUBLE_EQ(cosine_update_fraction(0.3, 500, 1000), 0.15);
  EXPECT_DOUBLE_EQ(cosine_update_fraction(0.3, 250, 1000), 0.15 * (1.0 + std::sqrt(0.5)));
  EXPECT_DOUBLE_EQ(cosine_update_fraction(0.3, 1000, 1000), 0.0);
  EXPECT_DOUBLE_EQ(cosine_update_fraction(0.3, 5000, 1000), 0.0);
}

TEST(SparseTrainingSchedule, LayerDensitiesByDistribution) {
  // LeNet-300-100 at 90%: ERK's raw densities (n_in + n_out)/(n_in n_out) give fc3 (100 -> 10)
  // more than 1, so it is dense; fc1 and fc2 share the remaining 0.1 * 266,200 - 1,000 weights
  // in proportion to n_in + n_out: epsilon = 25,620 / (1,084 + 400).
  const std::vector<Shape> lenet = {{300, 784}, {100, 300}, {10, 100}};
  const std::vector<double> erk = layer_densities(lenet, 0.9, "erk");
  const double epsilon = 25620.0 / 1484.0;
  EXPECT_NEAR(erk[0], epsilon * 1084.0 / 235200.0, 1e-12);
  EXPECT_NEAR(erk[1], epsilon * 400.0 / 30000.0, 1e-12);
  EXPECT_DOUBLE_EQ(erk[2], 1.0);
  EXPECT_NEAR(erk[0] * 235200 + erk[1] * 30000 + erk[2] * 1000, 26620.0, 1e-6);
  EXPECT_EQ(layer_densities(lenet, 0.9, "er"), erk);  // the same for Linear weights
  for (double d : layer_densities(lenet, 0.9, "uniform")) EXPECT_DOUBLE_EQ(d, 0.1);
  // A kernel: ERK counts its size, ER does not. conv [8, 4, 3, 3] (288) beside fc [10, 288]:
  // ERK raw 18/288 and 298/2880, ER raw 12/32 and 298/2880.
  const std::vector<Shape> cnn = {{8, 4, 3, 3}, {10, 288}};
  const std::vector<double> k = layer_densities(cnn, 0.5, "erk");
  const double ek = (0.5 * 3168) / (18.0 + 298.0);
  EXPECT_NEAR(k[0], ek * 18.0 / 288.0, 1e-12);
  EXPECT_NEAR(k[1], ek * 298.0 / 2880.0, 1e-12);
  const std::vector<double> er = layer_densities(cnn, 0.5, "er");
  // ER's conv raw density 12/32 times epsilon 1584 / (108 + 298) exceeds 1: dense, and fc
  // takes the remaining 1,296 of 2,880.
  EXPECT_DOUBLE_EQ(er[0], 1.0);
  EXPECT_NEAR(er[1], 1296.0 / 2880.0, 1e-12);
}

// Watches the sparse term from behind it in the term list: every mask keeps its count of active
// weights at every step, and the weights grown at an update are exactly zero.
class Watcher final : public TrainingTerm {
 public:
  std::string name() const override { return "watcher"; }
  void begin(Model& model, const TrainConfig&, int64_t) override {
    weights_ = compressible_weights(model);
    for (const Parameter* p : weights_) counts_.push_back(ones(p->mask));
  }
  void before_forward(Model&, const TrainStep&) override {
    before_.clear();
    for (const Parameter* p : weights_) before_.push_back(p->mask);
  }
  void after_backward(Model&, const TrainStep& step) override {
    for (size_t l = 0; l < weights_.size(); ++l) {
      const Parameter& p = *weights_[l];
      EXPECT_EQ(ones(p.mask), counts_[l]) << p.name << " at step " << step.step;
      int64_t moved = 0;
      for (int64_t i = 0; i < p.value.numel(); ++i) {
        if (p.mask[i] == 0.0f) EXPECT_EQ(p.value[i], 0.0f) << p.name;
        if (p.mask[i] != 0.0f && before_[l][i] == 0.0f) {
          EXPECT_EQ(p.value[i], 0.0f) << "grown weight " << p.name << "[" << i << "] is not zero";
          ++moved;
        }
      }
      grown_ += moved;
    }
  }
  int64_t grown_ = 0;
  std::vector<int64_t> counts_;

 private:
  std::vector<Parameter*> weights_;
  std::vector<Tensor> before_;
};

TEST(SparseTraining, MasksKeepTheirCountsAndGrownWeightsStartAtZero) {
  for (const char* method : {"set", "rigl"}) {
    Model model = mlp(1);
    const Dataset data = testing::gaussian_blobs(256, 2, 4, 8, 2);
    auto term = make_training_term(method, {{"sparsity", 0.8}, {"frequency", 4}, {"distribution", "uniform"}});
    auto watcher = std::make_shared<Watcher>();
    const TrainResult result = train(model, data, config(4), {}, {}, {term, watcher});
    // 0.2 of 256 and of 128 kept, from the first step to the last.
    EXPECT_EQ(watcher->counts_, (std::vector<int64_t>{51, 26})) << method;
    EXPECT_EQ(ones(model.parameter("fc1.weight").mask), 51) << method;
    EXPECT_GT(watcher->grown_, 0) << method;
    // Updates every 4 steps before step 48 (3/4 of 64): steps 4, 8, ..., 44, of which epoch 1
    // (steps 0-15) holds 4, 8 and 12.
    EXPECT_EQ(result.history[0].term_reports[method]["updates"], 3) << method;
    EXPECT_EQ(result.history[3].term_reports[method]["updates"], 0) << method;
    // Of the values: an active weight may still be zero (grown, its unit's gradient zero since).
    EXPECT_GE(result.history[3].term_reports[method]["sparsity"].get<double>(), 1.0 - 77.0 / 384)
        << method;
    EXPECT_GT(result.history.back().train_accuracy, 0.85) << method;
  }
}

TEST(SparseTraining, TheSameSeedGivesTheSameMasks) {
  const Dataset data = testing::gaussian_blobs(256, 5, 4, 8, 2);
  const auto run = [&](const nlohmann::json& options, uint64_t seed) {
    Model model = mlp(7);
    TrainConfig c = config(2);
    c.seed = seed;
    train(model, data, c, {}, {}, {make_training_term("set", options)});
    return model.parameter("fc1.weight").mask;
  };
  const nlohmann::json options = {{"sparsity", 0.7}, {"frequency", 3}};
  EXPECT_EQ(run(options, 1).flat(), run(options, 1).flat());
  EXPECT_NE(run(options, 1).flat(), run(options, 2).flat());
  // The initial masks by its own seed, whatever the training seed (no update in a 2-epoch run
  // every 1000 steps).
  const nlohmann::json seeded = {{"sparsity", 0.7}, {"frequency", 1000}, {"seed", 9}};
  EXPECT_EQ(run(seeded, 1).flat(), run(seeded, 2).flat());
  nlohmann::json other = seeded;
  other["seed"] = 10;
  EXPECT_NE(run(seeded, 1).flat(), run(other, 1).flat());
}

// A 2 x 4 mask from "11110000". Not from a float list: GCC 12.2 at -O2 -mavx512f folds the
// literal {1, 1, 1, 1, 0, 0, 0, 0} into a broadcast of 1 (all ones), a miscompile.
Tensor mask(const std::string& bits) {
  Tensor m(Shape{2, 4});
  for (size_t i = 0; i < bits.size(); ++i) m[static_cast<int64_t>(i)] = bits[i] == '1' ? 1.0f : 0.0f;
  return m;
}

// One Linear layer 2 x 4 at 50%, with weights, mask and gradients set by hand.
struct HandMade {
  Model model = Model::from_graph_json(nlohmann::json::parse(
      R"({"input": {"shape": [4]}, "nodes": [{"name": "fc", "type": "Linear", "attributes": {"out_features": 2}}]})"));
  Parameter* w = nullptr;
  std::shared_ptr<TrainingTerm> term;

  explicit HandMade(const std::string& method) {
    model.initialize(0);
    // alpha 1 at half of T_end = 8 steps: f = 1/2 (1 + cos(pi/2)) = 0.5, so 2 of the 4 move.
    term = make_training_term(method, {{"sparsity", 0.5}, {"distribution", "uniform"},
                                       {"alpha", 1.0}, {"frequency", 4}, {"end", 1}});
    term->begin(model, config(1), 8);
    w = &model.parameter("fc.weight");
    w->mask = mask("11110000");
    w->value = Tensor({2, 4}, {0.5f, -0.1f, 0.05f, -2.0f, 0, 0, 0, 0});
    w->grad = Tensor({2, 4}, {9.0f, 9.0f, 9.0f, 9.0f, 0.1f, -3.0f, 0.2f, 2.5f});
  }
  void update() {
    TrainStep step;
    step.step = 4;
    term->after_backward(model, step);
  }
};

TEST(SparseTraining, RiglGrowsWhereTheGradientIsLargest) {
  HandMade h("rigl");
  h.update();
  // Dropped: the two smallest magnitudes (-0.1 and 0.05 at 1 and 2). Grown: the two largest
  // |grad| among all weights not kept, the dropped ones included (Evci et al., Algorithm 1):
  // theirs, 9 and 9, beat -3.0 and 2.5, so the same positions come back — at zero.
  EXPECT_EQ(h.w->mask.flat(), mask("11110000").flat());
  EXPECT_EQ(h.w->value[1], 0.0f);  // regrown at zero, not at its old value
  EXPECT_EQ(h.w->value[2], 0.0f);

  // With small gradients there, the largest inactive ones win: -3.0 at 5 and 2.5 at 7.
  HandMade g("rigl");
  g.w->grad = Tensor({2, 4}, {9.0f, 0.2f, 0.3f, 9.0f, 0.1f, -3.0f, 0.2f, 2.5f});
  g.update();
  EXPECT_EQ(g.w->mask.flat(), mask("10010101").flat());
  EXPECT_EQ(g.w->value.flat(), Tensor({2, 4}, {0.5f, 0, 0, -2.0f, 0, 0, 0, 0}).flat());
}

TEST(SparseTraining, SetDropsTheSmallestAndGrowsAtRandomAmongTheRest) {
  HandMade h("set");
  h.update();
  EXPECT_EQ(h.w->mask[0], 1.0f);  // 0.5 and -2.0 are kept
  EXPECT_EQ(h.w->mask[3], 1.0f);
  EXPECT_EQ(h.w->value[0], 0.5f);
  EXPECT_EQ(h.w->value[3], -2.0f);
  EXPECT_EQ(ones(h.w->mask), 4);
  for (int64_t i : {1, 2, 4, 5, 6, 7})
    if (h.w->mask[i] != 0.0f) EXPECT_EQ(h.w->value[i], 0.0f);
}

TEST(SparseTraining, BadOptionsAreClearErrors) {
  const auto message = [](const char* method, const nlohmann::json& options) {
    return bad_input_message([&] { make_training_term(method, options); });
  };
  EXPECT_NE(message("rigl", {{"sparsity", 1.0}}).find("term rigl: sparsity must be in [0, 1)"), std::string::npos);
  EXPECT_NE(message("set", {{"distribution", "normal"}}).find("distribution must be 'erk', 'er' or 'uniform'"),
            std::string::npos);
  EXPECT_NE(message("rigl", {{"alpha", 0.0}}).find("alpha (the first update's fraction) must be in (0, 1]"),
            std::string::npos);
  EXPECT_NE(message("rigl", {{"frequency", 0}}).find("frequency (steps between updates) must be >= 1"),
            std::string::npos);
  EXPECT_NE(message("set", {{"init", "zeros"}}).find("init must be 'random' or 'magnitude'"), std::string::npos);
  EXPECT_NE(message("set", {{"zeta", 0.3}}).find("term set: unknown option 'zeta'"), std::string::npos);
  // Checked against the model and the run before the first step.
  const Dataset data = testing::gaussian_blobs(64, 2, 4, 8, 2);
  Model model = mlp(1);
  EXPECT_NE(bad_input_message([&] {
              train(model, data, config(2), {}, {}, {make_training_term("rigl", {{"end", 3}})});
            }).find("end = 3 lies past the run's 2 epochs"),
            std::string::npos);
  Model pruned = mlp(1);
  pruned.parameter("fc2.weight").mask = Tensor({4, 32}, 1.0f);
  pruned.parameter("fc2.weight").mask[5] = 0.0f;
  EXPECT_NE(bad_input_message([&] {
              train(pruned, data, config(1), {}, {}, {make_training_term("set", {})});
            }).find("weight fc2.weight is already pruned"),
            std::string::npos);
}

}  // namespace
}  // namespace shrink
