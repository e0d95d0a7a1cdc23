// quant.pow2: weights of 0 or +-2^n (the pow2 format). By default Incremental Network
// Quantization (Zhou et al. 2017): each layer's range is fixed from its trained weights, then
// in portions (default 50%, 75%, 87.5%, 100% of each layer, largest magnitudes first) the
// weights are quantized and frozen, and after every portion but the last the remaining float
// weights retrain for "epochs" epochs to make up for it. Once everything is frozen the weights
// are no longer trainable (INQ's result is final; biases still are). With "incremental": false
// every weight is quantized at once and trains straight-through, for quantization-aware
// training from scratch (`shrink train --quantize pow2:5`).
#include "compress/pass_options.hpp"
#include "compress/passes.hpp"
#include "compress/quant/quantize_pass.hpp"
#include "nn/quant/power_of_two.hpp"

#include <spdlog/spdlog.h>

namespace shrink {
namespace {

class InqPass final : public QuantizePass {
 public:
  explicit InqPass(const nlohmann::json& json)
      : QuantizePass(QuantizePassTraits{"pow2", true, false}, json, {"portions", "epochs", "lr"}) {
    PassOptions options(name(), raw_options());
    portions_ = options.get<std::vector<double>>("portions", {0.5, 0.75, 0.875, 1.0});
    epochs_ = options.get<int>("epochs", 0);
    lr_ = options.get<double>("lr", 0.0);
    incremental_ = options.get<bool>("incremental", true);
    require(!portions_.empty() && portions_.back() == 1.0,
            "pass quant.pow2: portions must end at 1.0 (every weight quantized), got " +
                nlohmann::json(portions_).dump());
    for (size_t i = 0; i < portions_.size(); ++i)
      require(portions_[i] > 0.0 && portions_[i] <= 1.0 && (i == 0 || portions_[i] > portions_[i - 1]),
              "pass quant.pow2: portions must increase within (0, 1], got " +
                  nlohmann::json(portions_).dump());
    require(epochs_ >= 0, "pass quant.pow2: epochs must be >= 0, got " + std::to_string(epochs_));
    require(lr_ >= 0.0, "pass quant.pow2: lr must be > 0 (0 = the fine-tuning default)");
  }

 private:
  nlohmann::json apply(Model& model, PassContext& context) override {
    const std::vector<Layer> layers = plan(model);
    std::vector<Tensor> originals;
    for (const Layer& layer : layers) originals.push_back(layer.weight->value);
    nlohmann::json report = quantize(layers);
    if (!incremental_) return report;

    std::vector<std::pair<Parameter*, PowerOfTwoQuantizer*>> inq;
    for (const Layer& layer : layers)
      if (auto* q = dynamic_cast<PowerOfTwoQuantizer*>(layer.weight->quantizer()))
        inq.emplace_back(layer.weight, q);
    require(epochs_ == 0 || context.train != nullptr,
            "INQ retrains between portions and needs training data (pass --data)");
    TrainConfig config = context.finetune;
    config.epochs = epochs_;
    if (lr_ > 0.0) config.lr = static_cast<float>(lr_);

    nlohmann::json steps = nlohmann::json::array();
    for (size_t step = 0; step < portions_.size(); ++step) {
      for (auto& [p, q] : inq) {
        q->freeze(p->value, p->mask, portions_[step]);
        p->mark_changed();
      }
      nlohmann::json entry = {{"portion", portions_[step]}, {"epochs", nlohmann::json::array()}};
      // After the last portion nothing of the quantized weights is left to retrain.
      if (step + 1 < portions_.size() && epochs_ > 0) {
        auto on_epoch = [&](const EpochStats& stats) {
          spdlog::info("INQ {:.1f}% quantized, retraining epoch {}/{}: loss {:.4f}",
                       100.0 * portions_[step], stats.epoch + 1, config.epochs, stats.train_loss);
          entry["epochs"].push_back(stats.to_json());
        };
        auto on_progress = [&](int64_t done, int64_t total) {
          if (context.progress) context.progress(done, total, "INQ");
        };
        train(model, *context.train, config, on_epoch, on_progress, context.terms);
      }
      steps.push_back(entry);
    }
    for (size_t i = 0; i < layers.size(); ++i) {
      Parameter& p = *layers[i].weight;
      if (auto* q = dynamic_cast<PowerOfTwoQuantizer*>(p.quantizer())) {
        p.value = p.effective();
        q->finish_incremental();
        p.trainable = false;
        p.mark_changed();
      }
      report["layers"][p.name]["relative_mse"] = relative_mse(originals[i], p.effective());
    }
    report["steps"] = steps;
    return report;
  }

  std::vector<double> portions_;
  int epochs_ = 0;
  double lr_ = 0.0;
  bool incremental_ = true;
};

}  // namespace

std::unique_ptr<Pass> make_pow2_pass(const nlohmann::json& options) {
  return std::make_unique<InqPass>(options);
}

}  // namespace shrink
