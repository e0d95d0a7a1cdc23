// prune.magnitude: zeroes the weights of smallest magnitude (Han et al., "Learning both Weights
// and Connections", 2015), per layer or with one global threshold, and records the result in
// each weight's mask so fine-tuning keeps them at zero.
#include "compress/passes.hpp"
#include "compress/prune/scored_pruner.hpp"

namespace shrink {
namespace {

class Magnitude final : public PruningCriterion {
 public:
  std::vector<Tensor> scores(Model&, const std::vector<Parameter*>& weights,
                             PassContext&) override {
    std::vector<Tensor> scores;
    for (const Parameter* p : weights) {
      Tensor score = p->value;
      score.flat() = score.flat().cwiseAbs();
      scores.push_back(std::move(score));
    }
    return scores;
  }
};

}  // namespace

std::unique_ptr<Pass> make_magnitude_pruner(const nlohmann::json& options) {
  return make_scored_pruner("prune.magnitude", options,
                            [](PassOptions&) { return std::make_unique<Magnitude>(); });
}

}  // namespace shrink
