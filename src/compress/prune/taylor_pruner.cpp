// prune.taylor: the first-order Taylor estimate of the loss change when a weight is removed,
// |∂L/∂w · w|, accumulated batch by batch as a sum of magnitudes (Molchanov et al., "Pruning
// Convolutional Neural Networks for Resource Efficient Inference", ICLR 2017, applied to single
// weights). Unlike SNIP, which takes the magnitude of the mean gradient, a weight whose gradient
// changes sign between batches still scores high here.
#include "compress/passes.hpp"
#include "compress/prune/calibration.hpp"
#include "compress/prune/scored_pruner.hpp"

namespace shrink {
namespace {

class Taylor final : public PruningCriterion {
 public:
  explicit Taylor(PassOptions& options)
      : calibration_(CalibrationOptions::read(options, "pass prune.taylor")) {}

  nlohmann::json options() const override { return calibration_.to_json(); }

  std::vector<Tensor> scores(Model& model, const std::vector<Parameter*>& weights,
                             PassContext& context) override {
    Model copy = model.clone();
    const std::vector<Parameter*> copies = same_weights(copy, weights);
    std::vector<Tensor> sum = zeros_like(weights);
    for_each_calibration_batch(model, context, calibration_, calibration_.batch,
                               [&](const Tensor& x, const std::vector<int32_t>& labels) {
      loss_gradients(copy, x, labels, /*training=*/false);
      const auto n = static_cast<float>(labels.size());
      for (size_t t = 0; t < weights.size(); ++t)
        sum[t].flat() +=
            n * copies[t]->grad.flat().cwiseProduct(weights[t]->value.flat()).cwiseAbs();
    });
    return sum;
  }

 private:
  CalibrationOptions calibration_;
};

}  // namespace

std::unique_ptr<Pass> make_taylor_pruner(const nlohmann::json& options) {
  return make_scored_pruner("prune.taylor", options,
                            [](PassOptions& o) { return std::make_unique<Taylor>(o); });
}

}  // namespace shrink
