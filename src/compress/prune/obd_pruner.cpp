// prune.obd: Optimal Brain Damage (LeCun, Denker & Solla, NeurIPS 1990): saliency ½·h_ii·w²,
// the loss a weight's removal costs by a second-order Taylor expansion around a minimum, with
// h the diagonal of the Gauss–Newton Hessian from the paper's second-order backward pass
// (shrink/nn/curvature.hpp), averaged over calibration samples in inference mode.
#include "compress/passes.hpp"
#include "compress/prune/calibration.hpp"
#include "compress/prune/scored_pruner.hpp"
#include "shrink/nn/curvature.hpp"

namespace shrink {
namespace {

class OptimalBrainDamage final : public PruningCriterion {
 public:
  explicit OptimalBrainDamage(PassOptions& options)
      : calibration_(CalibrationOptions::read(options, "pass prune.obd")) {}

  nlohmann::json options() const override { return calibration_.to_json(); }

  std::vector<Tensor> scores(Model& model, const std::vector<Parameter*>& weights,
                             PassContext& context) override {
    Model copy = model.clone();
    std::map<std::string, Tensor> curvature;
    for_each_calibration_batch(model, context, calibration_, calibration_.batch,
                               [&](const Tensor& x, const std::vector<int32_t>& labels) {
      Tensor d2 = cross_entropy_curvature(copy.forward(x, /*training=*/false));
      d2.flat() *= static_cast<float>(labels.size());  // a sum over samples, not a batch mean
      accumulate_curvature(copy, x, d2, curvature);
    });
    std::vector<Tensor> scores;
    for (const Parameter* p : weights) {
      auto it = curvature.find(p->name);
      require(it != curvature.end(),
              "no curvature reached " + p->name + " (no path from it to the output?)");
      Tensor score = it->second;
      score.flat() = 0.5f * score.flat().cwiseProduct(p->value.flat().cwiseAbs2());
      scores.push_back(std::move(score));
    }
    return scores;
  }

 private:
  CalibrationOptions calibration_;
};

}  // namespace

std::unique_ptr<Pass> make_obd_pruner(const nlohmann::json& options) {
  return make_scored_pruner("prune.obd", options,
                            [](PassOptions& o) { return std::make_unique<OptimalBrainDamage>(o); });
}

}  // namespace shrink
