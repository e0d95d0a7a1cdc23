#include "compress/prune/scored_pruner.hpp"
#include "compress/prune/dead_units.hpp"
#include "compress/prune/layer_sparsity.hpp"

#include "shrink/nn/weights.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace shrink {
namespace {

struct Candidate {
  float score;  // -infinity for weights already pruned: they stay pruned
  int tensor;
  int64_t index;
};

// Prunes the `count` candidates of lowest score; ties go by position.
void prune_lowest(std::vector<Candidate>& candidates, int64_t count,
                  const std::vector<Parameter*>& weights) {
  count = std::clamp<int64_t>(count, 0, static_cast<int64_t>(candidates.size()));
  auto by_score = [](const Candidate& a, const Candidate& b) {
    if (a.score != b.score) return a.score < b.score;
    if (a.tensor != b.tensor) return a.tensor < b.tensor;
    return a.index < b.index;
  };
  std::nth_element(candidates.begin(), candidates.begin() + count, candidates.end(), by_score);
  for (int64_t i = 0; i < count; ++i) {
    const Candidate& c = candidates[static_cast<size_t>(i)];
    weights[static_cast<size_t>(c.tensor)]->mask[c.index] = 0.0f;
  }
}

void collect(const Parameter& p, const Tensor& score, int tensor, std::vector<Candidate>& out) {
  constexpr float kPruned = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < p.value.numel(); ++i)
    out.push_back({p.mask[i] == 0.0f ? kPruned : score[i], tensor, i});
}

void require_finite_scores(const Parameter& p, const Tensor& score) {
  require(score.shape() == p.value.shape(),
          "the scores of " + p.name + " have shape " + to_string(score.shape()) +
              " but the weight has shape " + to_string(p.value.shape()));
  for (int64_t i = 0; i < score.numel(); ++i)
    if (!std::isfinite(score[i]))
      throw Error::bad_input("the pruning scores of " + p.name + " are not finite (" +
                             std::to_string(score[i]) + " at index " + std::to_string(i) +
                             "): its gradients or curvature overflowed; check the model on the "
                             "calibration data");
}

class ScoredPruner final : public Pass {
 public:
  ScoredPruner(std::string name, const nlohmann::json& json, const CriterionFactory& factory)
      : name_(std::move(name)) {
    PassOptions options(name_, json);
    target_ = PruningTarget::read(options, "pass " + name_);
    layers_ = LayerSparsities::read(options, "pass " + name_);
    require(layers_.empty() || !options.has("scope") || target_.scope == "layer",
            "pass " + name_ + ": per-layer sparsities prune each layer on its own; give scope "
            "'layer' or leave it out");
    if (!layers_.empty()) target_.scope = "layer";
    steps_ = options.get<int>("steps", 1);
    schedule_ = options.get<std::string>("schedule", "linear");
    criterion_ = factory(options);
    reclaim_ = options.get<bool>("reclaim", false);
    regrow_ = options.get<bool>("regrow", false);
    options.finish();
    require(steps_ >= 1 && steps_ <= 1000,
            "pass " + name_ + ": steps must be in [1, 1000], got " + std::to_string(steps_));
    require(!regrow_ || criterion_->scores_pruned_weights(),
            "pass " + name_ + ": regrow needs a criterion that scores pruned weights (prune.snip)");
    require(schedule_ == "linear" || schedule_ == "geometric",
            "pass " + name_ + ": schedule must be 'linear' or 'geometric', got '" + schedule_ + "'");
  }

  std::string name() const override { return name_; }
  nlohmann::json options() const override {
    nlohmann::json json = target_.to_json();
    if (!layers_.empty()) json.update(layers_.to_json());
    json["steps"] = steps_;
    json["schedule"] = schedule_;
    json["reclaim"] = reclaim_;
    if (criterion_->scores_pruned_weights()) json["regrow"] = regrow_;
    json.update(criterion_->options());
    return json;
  }

 private:
  nlohmann::json apply(Model& model, PassContext& context) override {
    const std::vector<Parameter*> weights = target_.weights(model);
    const std::vector<double> own =
        layers_.for_weights(weights, target_.sparsity, "pass " + name_);
    const DeadUnits units(model, weights);
    nlohmann::json dead_without_reclaim;
    int64_t reclaimed = 0;
    std::vector<Tensor> masks_at_start;
    for (const Parameter* p : weights) masks_at_start.push_back(p->mask);
    // In several steps, the scores are taken again on the weights each step leaves. With
    // regrow every step chooses afresh among all the weights (FORCE, de Jorge et al.,
    // "Progressive Skeletonization", ICLR 2021), so the values stay until the last step.
    for (int step = 1; step <= steps_; ++step) {
      const std::vector<Tensor> scores = criterion_->scores(model, weights, context);
      std::vector<Tensor> masks_before;
      for (size_t t = 0; t < weights.size(); ++t) {
        if (regrow_) weights[t]->mask = masks_at_start[t];
        masks_before.push_back(weights[t]->mask);
      }
      // Select without zeroing, so the criterion can still read the removed weights' values.
      auto select = [&] {
        if (layers_.empty()) {
          prune_lowest_scores(weights, scores, at_step(target_.sparsity, step), target_.scope);
        } else {
          for (size_t i = 0; i < weights.size(); ++i)
            prune_lowest_scores({weights[i]}, {scores[i]}, at_step(own[i], step), "layer");
        }
      };
      select();
      if (reclaim_) {
        dead_without_reclaim = units.count();
        reclaimed = reclaim_dead_units(units, weights, masks_before, select);
      }
      if (regrow_ && step < steps_) continue;
      criterion_->compensate(weights, masks_before);
      for (Parameter* p : weights) p->apply_mask();
    }
    nlohmann::json section = {{"layer_sparsity", layer_sparsity(weights)},
                              {"dead_units", units.count()}};
    if (reclaim_) {
      section["dead_units_without_reclaim"] = dead_without_reclaim;  // both of the last step
      section["reclaimed_weights"] = reclaimed;
    }
    return section;
  }

  // The sparsity after `step` of steps_ on the way to `sparsity`: equal steps of sparsity
  // ("linear"), or each step keeping the same fraction of the weights the last one left
  // ("geometric": density (1 - sparsity)^(step/steps), the schedule of iterative SNIP in de Jorge
  // et al., "Progressive Skeletonization", ICLR 2021), which prunes less at a time near the end.
  double at_step(double sparsity, int step) const {
    const double progress = static_cast<double>(step) / steps_;
    if (schedule_ == "linear") return sparsity * progress;
    return step == steps_ ? sparsity : 1.0 - std::pow(1.0 - sparsity, progress);
  }

  std::string name_;
  PruningTarget target_;
  LayerSparsities layers_;
  int steps_ = 1;
  std::string schedule_;
  bool reclaim_ = false;
  bool regrow_ = false;
  std::unique_ptr<PruningCriterion> criterion_;
};

}  // namespace

PruningTarget PruningTarget::read(JsonOptions& options, const std::string& what,
                                  double default_sparsity) {
  PruningTarget target;
  target.sparsity = options.get<double>("sparsity", default_sparsity);
  target.scope = options.get<std::string>("scope", target.scope);
  target.exclude = options.get<std::vector<std::string>>("exclude", {});
  require(target.sparsity >= 0.0 && target.sparsity < 1.0,
          what + ": sparsity must be in [0, 1), got " + std::to_string(target.sparsity));
  require(target.scope == "layer" || target.scope == "global",
          what + ": scope must be 'layer' or 'global', got '" + target.scope + "'");
  return target;
}

nlohmann::json PruningTarget::to_json() const {
  nlohmann::json json = {{"sparsity", sparsity}, {"scope", scope}};
  if (!exclude.empty()) json["exclude"] = exclude;
  return json;
}

std::vector<Parameter*> PruningTarget::weights(Model& model) const {
  std::vector<Parameter*> weights = compressible_weights(model, exclude);
  require(!weights.empty(), exclude.empty()
                                ? "the model has no Linear or Conv2d weights to prune"
                                : "every compressible weight is excluded; nothing to prune");
  for (const Parameter* p : weights) require_finite(*p);
  for (Parameter* p : weights)
    if (!p->has_mask()) p->mask = Tensor(p->value.shape(), 1.0f);
  return weights;
}

void require_finite(const Parameter& p) {
  for (int64_t i = 0; i < p.value.numel(); ++i)
    if (!std::isfinite(p.value[i]))
      throw Error::bad_input("weight " + p.name + " holds a non-finite value (" +
                             std::to_string(p.value[i]) + " at index " + std::to_string(i) +
                             "), so its weights have no order to prune by; retrain or repair "
                             "the model first");
}

double sparsity_of(const Parameter& p) {
  const int64_t n = p.value.numel();
  return n == 0 ? 0.0 : static_cast<double>(n - p.nonzeros()) / static_cast<double>(n);
}

nlohmann::json layer_sparsity(const std::vector<Parameter*>& weights) {
  nlohmann::json layers = nlohmann::json::object();
  for (const Parameter* p : weights) layers[p->name] = sparsity_of(*p);
  return layers;
}

void prune_lowest_scores(const std::vector<Parameter*>& weights, const std::vector<Tensor>& scores,
                         double sparsity, const std::string& scope) {
  require(scores.size() == weights.size(), "one score tensor per weight is needed");
  for (size_t t = 0; t < weights.size(); ++t) {
    require_finite_scores(*weights[t], scores[t]);
    if (!weights[t]->has_mask()) weights[t]->mask = Tensor(weights[t]->value.shape(), 1.0f);
  }
  if (scope == "global") {
    std::vector<Candidate> candidates;
    int64_t total = 0;
    for (size_t t = 0; t < weights.size(); ++t) {
      collect(*weights[t], scores[t], static_cast<int>(t), candidates);
      total += weights[t]->value.numel();
    }
    prune_lowest(candidates, std::llround(sparsity * static_cast<double>(total)), weights);
  } else {
    require(scope == "layer", "scope must be 'layer' or 'global', got '" + scope + "'");
    for (size_t t = 0; t < weights.size(); ++t) {
      std::vector<Candidate> candidates;
      collect(*weights[t], scores[t], 0, candidates);
      prune_lowest(candidates,
                   std::llround(sparsity * static_cast<double>(weights[t]->value.numel())),
                   {weights[t]});
    }
  }
}

std::unique_ptr<Pass> make_scored_pruner(const std::string& pass_name,
                                         const nlohmann::json& options,
                                         const CriterionFactory& criterion) {
  return std::make_unique<ScoredPruner>(pass_name, options, criterion);
}

}  // namespace shrink
