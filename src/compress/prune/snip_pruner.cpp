// prune.snip: connection sensitivity |∂L/∂w · w| on calibration batches (Lee, Ajanthan & Torr,
// "SNIP: Single-shot Network Pruning based on Connection Sensitivity", ICLR 2019). Meant for a
// freshly initialised network (shrink train --prune-at-init snip:0.95), where it keeps the
// connections whose removal would change the loss most, before any training. The gradient is
// the mean over all calibration samples, taken as a training step would (batch statistics).
// With `rescale`, each layer's surviving weights are scaled so their sum of squares is the
// layer's before pruning: a layer keeping a fraction d of its initial weights would otherwise
// pass on about √d of its input's signal, and the network's output and gradients shrink layer
// after layer (Lee, Ajanthan, Gould & Torr, "A Signal Propagation Perspective for Pruning Neural
// Networks at Initialization", ICLR 2020). The sum of squares rather than 1/√d, as SET and RigL
// use for random connections, because SNIP keeps larger-than-average weights.
#include "compress/passes.hpp"
#include "compress/prune/calibration.hpp"
#include "compress/prune/scored_pruner.hpp"

#include <cmath>

namespace shrink {
namespace {

class Snip final : public PruningCriterion {
 public:
  explicit Snip(PassOptions& options)
      : calibration_(CalibrationOptions::read(options, "pass prune.snip")),
        rescale_(options.get<bool>("rescale", false)) {}

  nlohmann::json options() const override {
    nlohmann::json json = calibration_.to_json();
    json["rescale"] = rescale_;
    return json;
  }

  bool scores_pruned_weights() const override { return true; }

  std::vector<Tensor> scores(Model& model, const std::vector<Parameter*>& weights,
                             PassContext& context) override {
    Model copy = model.clone();
    const std::vector<Parameter*> copies = same_weights(copy, weights);
    // The gradient of the network as the masks leave it; the score of a pruned weight is then
    // the sensitivity to bringing it back at its initial value (regrow: FORCE).
    for (Parameter* p : copies) p->apply_mask();
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

  void compensate(const std::vector<Parameter*>& weights,
                  const std::vector<Tensor>& masks_before) override {
    if (!rescale_) return;
    for (size_t t = 0; t < weights.size(); ++t) {
      Tensor& w = weights[t]->value;
      const Tensor& kept = weights[t]->mask;
      double before = 0.0, after = 0.0;
      for (int64_t i = 0; i < w.numel(); ++i) {
        const double square = static_cast<double>(w[i]) * static_cast<double>(w[i]);
        before += masks_before[t][i] != 0.0f ? square : 0.0;
        after += kept[i] != 0.0f ? square : 0.0;
      }
      if (after > 0.0) w.flat() *= static_cast<float>(std::sqrt(before / after));
    }
  }

 private:
  CalibrationOptions calibration_;
  bool rescale_ = false;
};

}  // namespace

std::unique_ptr<Pass> make_snip_pruner(const nlohmann::json& options) {
  return make_scored_pruner("prune.snip", options,
                            [](PassOptions& o) { return std::make_unique<Snip>(o); });
}

}  // namespace shrink
