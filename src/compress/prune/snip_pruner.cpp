// prune.snip: connection sensitivity |∂L/∂w · w| on calibration batches (Lee, Ajanthan & Torr,
// "SNIP: Single-shot Network Pruning based on Connection Sensitivity", ICLR 2019). Meant for a
// freshly initialised network (shrink train --prune-at-init snip:0.95), where it keeps the
// connections whose removal would change the loss most, before any training. The gradient is
// the mean over all calibration samples, taken as a training step would (batch statistics).
#include "compress/passes.hpp"
#include "compress/prune/calibration.hpp"
#include "compress/prune/scored_pruner.hpp"

namespace shrink {
namespace {

class Snip final : public PruningCriterion {
 public:
  explicit Snip(PassOptions& options)
      : calibration_(CalibrationOptions::read(options, "pass prune.snip")) {}

  nlohmann::json options() const override { return calibration_.to_json(); }

  std::vector<Tensor> scores(Model& model, const std::vector<Parameter*>& weights,
                             PassContext& context) override {
    Model copy = model.clone();
    const std::vector<Parameter*> copies = same_weights(copy, weights);
    std::vector<Tensor> gradient = zeros_like(weights);
    for_each_calibration_batch(model, context, calibration_, calibration_.batch,
                               [&](const Tensor& x, const std::vector<int32_t>& labels) {
      loss_gradients(copy, x, labels, /*training=*/true);
      const auto n = static_cast<float>(labels.size());
      for (size_t t = 0; t < weights.size(); ++t) gradient[t].flat() += n * copies[t]->grad.flat();
    });
    for (size_t t = 0; t < weights.size(); ++t)
      gradient[t].flat() = gradient[t].flat().cwiseProduct(weights[t]->value.flat()).cwiseAbs();
    return gradient;
  }

 private:
  CalibrationOptions calibration_;
};

}  // namespace

std::unique_ptr<Pass> make_snip_pruner(const nlohmann::json& options) {
  return make_scored_pruner("prune.snip", options,
                            [](PassOptions& o) { return std::make_unique<Snip>(o); });
}

}  // namespace shrink
