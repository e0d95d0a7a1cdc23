// agp: gradual magnitude pruning during training (Zhu & Gupta, "To prune, or not to prune:
// exploring the efficacy of pruning for model compression", 2017). Every `frequency` steps from
// `start` to `end` the smallest weights are pruned until the cubic schedule's sparsity is reached
// (sparsity_schedules.hpp); masks only grow, and the network trains on between prunings, so it
// adapts to each small cut instead of losing much at once.
#include "compress/prune/scored_pruner.hpp"
#include "compress/prune/sparsity_schedules.hpp"
#include "compress/terms.hpp"
#include "core/json_options.hpp"
#include "shrink/train/trainer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <optional>

namespace shrink {
namespace {

class GradualPruning final : public TrainingTerm {
 public:
  explicit GradualPruning(const nlohmann::json& json) {
    JsonOptions options("term agp", json);
    target_ = PruningTarget::read(options, "term agp");
    initial_ = options.get<double>("initial_sparsity", 0.0);
    start_ = options.get<double>("start", 0.0);
    if (options.has("end")) end_ = options.get<double>("end", 0.0);
    frequency_ = options.get<int64_t>("frequency", 100);
    options.finish();
    require(initial_ >= 0.0 && initial_ <= target_.sparsity,
            "term agp: initial_sparsity must be in [0, sparsity = " +
                message_number(target_.sparsity) + "], got " + message_number(initial_));
    require(std::isfinite(start_) && start_ >= 0.0,
            "term agp: start (an epoch) must be >= 0, got " + message_number(start_));
    require(!end_ || (std::isfinite(*end_) && *end_ >= start_),
            "term agp: end (an epoch) must be >= start = " + message_number(start_) + ", got " +
                message_number(end_.value_or(0.0)));
    require(frequency_ >= 1,
            "term agp: frequency (steps between prunings) must be >= 1, got " +
                std::to_string(frequency_));
  }

  std::string name() const override { return "agp"; }
  nlohmann::json options() const override {
    nlohmann::json json = target_.to_json();
    json["initial_sparsity"] = initial_;
    json["start"] = start_;
    if (end_) json["end"] = *end_;
    json["frequency"] = frequency_;
    return json;
  }

  void begin(Model& model, const TrainConfig& config, int64_t steps_per_epoch) override {
    epochs_ = config.epochs;
    total_steps_ = steps_per_epoch * config.epochs;
    const auto to_step = [&](double epoch) {
      return static_cast<int64_t>(std::llround(epoch * static_cast<double>(steps_per_epoch)));
    };
    // Without an end, the ramp takes the first three quarters of the run, leaving the last
    // quarter to recover at the final sparsity.
    const double end = end_.value_or(0.75 * config.epochs);
    require(end <= config.epochs,
            "term agp: end = " + message_number(end) + " lies past the run's " +
                std::to_string(config.epochs) +
                " epochs; the final sparsity would never be reached");
    start_step_ = to_step(start_);
    end_step_ = std::max(start_step_, to_step(end));
    weights_ = target_.weights(model);
    target_now_ = 0.0;
  }

  void before_forward(Model&, const TrainStep& step) override {
    const int64_t t = step.step;
    if (t < start_step_ || t > end_step_) return;
    if ((t - start_step_) % frequency_ == 0 || t == end_step_) prune_to(t);
  }

  // A ramp that ends with the run ends after its last step: the model leaves at the final
  // sparsity.
  void end_epoch(Model&, int epoch, nlohmann::json& report) override {
    if (epoch + 1 == epochs_ && end_step_ == total_steps_) prune_to(total_steps_);
    int64_t zeros = 0, total = 0;
    for (const Parameter* p : weights_) {
      total += p->value.numel();
      zeros += p->value.numel() - p->nonzeros();
    }
    const double sparsity = total > 0 ? static_cast<double>(zeros) / static_cast<double>(total) : 0.0;
    report["agp"] = {{"target_sparsity", target_now_}, {"sparsity", sparsity}};
    spdlog::debug("agp: epoch {} ends at {:.2f}% weight sparsity", epoch + 1, 100.0 * sparsity);
  }

 private:
  // Prunes the smallest weights still alive until the schedule's sparsity at step t; weights
  // already pruned count toward it.
  void prune_to(int64_t t) {
    target_now_ = agp_sparsity(initial_, target_.sparsity, start_step_, end_step_, t);
    std::vector<Tensor> scores;
    scores.reserve(weights_.size());
    for (const Parameter* p : weights_) {
      Tensor score = p->value;
      score.flat() = score.flat().cwiseAbs();
      scores.push_back(std::move(score));
    }
    prune_lowest_scores(weights_, scores, target_now_, target_.scope);
    for (Parameter* p : weights_) p->apply_mask();
  }

  PruningTarget target_;
  double initial_ = 0.0;
  double start_ = 0.0;
  std::optional<double> end_;
  int64_t frequency_ = 100;

  int epochs_ = 0;
  int64_t total_steps_ = 0;
  int64_t start_step_ = 0;
  int64_t end_step_ = 0;
  double target_now_ = 0.0;
  std::vector<Parameter*> weights_;
};

}  // namespace

std::shared_ptr<TrainingTerm> make_gradual_pruning(const nlohmann::json& options) {
  return std::make_shared<GradualPruning>(options);
}

}  // namespace shrink
