// prune.fisher: saliency ½·F_ii·w² with F the diagonal of the empirical Fisher information,
// the mean over calibration samples of the squared per-sample gradient (Theis et al., "Faster
// gaze prediction with dense networks and Fisher pruning", 2018; the cheap stand-in for OBD's
// Hessian diagonal, which it equals in expectation at a minimum for a well-specified model).
// Per-sample gradients come from one backward pass per sample, in inference mode.
#include "compress/passes.hpp"
#include "compress/prune/calibration.hpp"
#include "compress/prune/scored_pruner.hpp"

namespace shrink {
namespace {

class Fisher final : public PruningCriterion {
 public:
  explicit Fisher(PassOptions& options)
      : calibration_(CalibrationOptions::read(options, "pass prune.fisher")) {}

  nlohmann::json options() const override { return calibration_.to_json(); }

  std::vector<Tensor> scores(Model& model, const std::vector<Parameter*>& weights,
                             PassContext& context) override {
    Model copy = model.clone();
    const std::vector<Parameter*> copies = same_weights(copy, weights);
    std::vector<Tensor> fisher = zeros_like(weights);
    for_each_calibration_batch(model, context, calibration_, 1,
                               [&](const Tensor& x, const std::vector<int32_t>& labels) {
      loss_gradients(copy, x, labels, /*training=*/false);
      for (size_t t = 0; t < weights.size(); ++t) fisher[t].flat() += copies[t]->grad.flat().cwiseAbs2();
    });
    for (size_t t = 0; t < weights.size(); ++t)
      fisher[t].flat() = 0.5f * fisher[t].flat().cwiseProduct(weights[t]->value.flat().cwiseAbs2());
    return fisher;
  }

 private:
  CalibrationOptions calibration_;
};

}  // namespace

std::unique_ptr<Pass> make_fisher_pruner(const nlohmann::json& options) {
  return make_scored_pruner("prune.fisher", options,
                            [](PassOptions& o) { return std::make_unique<Fisher>(o); });
}

}  // namespace shrink
