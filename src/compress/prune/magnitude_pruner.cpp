// prune.magnitude: zeroes the weights of smallest magnitude (Han et al., "Learning both Weights
// and Connections", 2015), per layer or with one global threshold, and records the result in
// each weight's mask so fine-tuning keeps them at zero.
#include "compress/pass_options.hpp"
#include "compress/passes.hpp"
#include "shrink/nn/weights.hpp"

#include <algorithm>
#include <cmath>

namespace shrink {
namespace {

struct Candidate {
  float score;  // |w|, or -1 for weights already pruned (they stay pruned)
  int tensor;
  int64_t index;
};

// Prunes the `count` candidates of lowest score; ties are broken by position so the result is
// the same on every run.
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
    Parameter& p = *weights[static_cast<size_t>(candidates[static_cast<size_t>(i)].tensor)];
    p.mask[candidates[static_cast<size_t>(i)].index] = 0.0f;
  }
}

void collect(const Parameter& p, int tensor, std::vector<Candidate>& out) {
  for (int64_t i = 0; i < p.value.numel(); ++i)
    out.push_back({p.mask[i] == 0.0f ? -1.0f : std::abs(p.value[i]), tensor, i});
}

class MagnitudePruner final : public Pass {
 public:
  explicit MagnitudePruner(const nlohmann::json& json) {
    PassOptions options(name(), json);
    sparsity_ = options.get<double>("sparsity", 0.5);
    scope_ = options.get<std::string>("scope", "layer");
    options.finish();
    require(sparsity_ >= 0.0 && sparsity_ < 1.0,
            "pass prune.magnitude: sparsity must be in [0, 1), got " + std::to_string(sparsity_));
    require(scope_ == "layer" || scope_ == "global",
            "pass prune.magnitude: scope must be 'layer' or 'global', got '" + scope_ + "'");
  }

  std::string name() const override { return "prune.magnitude"; }
  nlohmann::json options() const override {
    return {{"sparsity", sparsity_}, {"scope", scope_}};
  }

 private:
  nlohmann::json apply(Model& model, PassContext&) override {
    std::vector<Parameter*> weights = compressible_weights(model);
    require(!weights.empty(), "the model has no Linear or Conv2d weights to prune");
    for (Parameter* p : weights)
      if (!p->has_mask()) p->mask = Tensor(p->value.shape(), 1.0f);

    if (scope_ == "global") {
      std::vector<Candidate> candidates;
      int64_t total = 0;
      for (size_t t = 0; t < weights.size(); ++t) {
        collect(*weights[t], static_cast<int>(t), candidates);
        total += weights[t]->value.numel();
      }
      prune_lowest(candidates, std::llround(sparsity_ * static_cast<double>(total)), weights);
    } else {
      for (size_t t = 0; t < weights.size(); ++t) {
        std::vector<Candidate> candidates;
        collect(*weights[t], 0, candidates);
        prune_lowest(candidates,
                     std::llround(sparsity_ * static_cast<double>(weights[t]->value.numel())),
                     {weights[t]});
      }
    }

    nlohmann::json layers = nlohmann::json::object();
    for (Parameter* p : weights) {
      p->apply_mask();
      const int64_t n = p->value.numel();
      layers[p->name] = static_cast<double>(n - p->nonzeros()) / static_cast<double>(n);
    }
    return {{"layer_sparsity", layers}};
  }

  double sparsity_ = 0.5;
  std::string scope_ = "layer";
};

}  // namespace

std::unique_ptr<Pass> make_magnitude_pruner(const nlohmann::json& options) {
  return std::make_unique<MagnitudePruner>(options);
}

}  // namespace shrink
