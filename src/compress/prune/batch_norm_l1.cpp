// bn_l1: the L1 penalty λ·Σ|γ| on the scales of every BatchNorm (Network Slimming, Liu et al.
// 2017). It drives the scales of unneeded channels towards zero during training, so pruning by
// |γ| afterwards removes channels the network has already learnt to do without.
#include "compress/pass_options.hpp"
#include "compress/terms.hpp"

#include <cmath>

namespace shrink {
namespace {

class BatchNormL1 final : public TrainingTerm {
 public:
  explicit BatchNormL1(const nlohmann::json& json) {
    PassOptions options("term bn_l1", json);
    strength_ = options.get<double>("strength", 1e-4);
    options.finish();
    require(std::isfinite(strength_) && strength_ >= 0.0,
            "term bn_l1: strength must be a finite non-negative number, got " +
                std::to_string(strength_));
  }

  std::string name() const override { return "bn_l1"; }
  nlohmann::json options() const override { return {{"strength", strength_}}; }

  void begin(Model& model, const TrainConfig&, int64_t) override {
    scales_.clear();
    for (const Node& node : model.nodes())
      if (node.op->type() == "BatchNorm2d" || node.op->type() == "BatchNorm1d")
        if (Parameter* gamma = model.find_parameter(node.name + ".weight"); gamma && gamma->trainable)
          scales_.push_back(gamma);
    require(!scales_.empty(), "the model has no trainable BatchNorm scales to penalise");
  }

  // The penalty's value is reported as a loss; its subgradient λ·sign(γ) goes straight into the
  // scales' grads, since it depends on no activation.
  double add_loss(Model&, const TrainStep&, const Tensor&, Tensor&,
                  ActivationGradients&) override {
    double sum = 0.0;
    for (const Parameter* gamma : scales_) sum += gamma->value.flat().cwiseAbs().sum();
    return strength_ * sum;
  }

  void after_backward(Model&, const TrainStep&) override {
    const auto strength = static_cast<float>(strength_);
    for (Parameter* gamma : scales_)
      for (int64_t i = 0; i < gamma->value.numel(); ++i) {
        const float g = gamma->value[i];
        gamma->grad[i] += g > 0.0f ? strength : (g < 0.0f ? -strength : 0.0f);
      }
  }

 private:
  double strength_ = 1e-4;
  std::vector<Parameter*> scales_;
};

}  // namespace

std::shared_ptr<TrainingTerm> make_batch_norm_l1(const nlohmann::json& options) {
  return std::make_shared<BatchNormL1>(options);
}

}  // namespace shrink
