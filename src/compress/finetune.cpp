// train.finetune: retrains a compressed model on the training data so it recovers the accuracy
// the previous passes cost. Masks and other compression state are respected by the optimizer;
// "terms" (and the context's terms) add to the objective, e.g. {"term": "bn_l1"}.
#include "compress/finetune.hpp"
#include "compress/passes.hpp"

#include <spdlog/spdlog.h>

namespace shrink {

void read_training_options(PassOptions& options, const std::string& pass) {
  require(options.get<int>("epochs", 1) >= 0, "pass " + pass + ": epochs must be >= 0");
  require(options.get<int64_t>("batch", 64) > 0, "pass " + pass + ": batch must be > 0");
  require(options.get<double>("lr", 0.01) > 0, "pass " + pass + ": lr must be > 0");
  options.get<double>("momentum", 0.9);
  options.get<double>("weight_decay", 0.0);
  options.get<bool>("nesterov", false);
  options.get<std::string>("optimizer", "sgd");
  options.get<std::string>("schedule", "constant");
}

TrainConfig training_config(const nlohmann::json& overrides, const TrainConfig& defaults) {
  TrainConfig config = defaults;
  config.epochs = overrides.value("epochs", config.epochs);
  config.batch_size = overrides.value("batch", config.batch_size);
  config.lr = overrides.value("lr", config.lr);
  config.momentum = overrides.value("momentum", config.momentum);
  config.weight_decay = overrides.value("weight_decay", config.weight_decay);
  config.nesterov = overrides.value("nesterov", config.nesterov);
  config.optimizer = overrides.value("optimizer", config.optimizer);
  config.schedule = overrides.value("schedule", config.schedule);
  return config;
}

nlohmann::json train_in_pass(Model& model, PassContext& context, const TrainConfig& config,
                             const TrainingTerms& terms, const std::string& what) {
  require(context.train != nullptr, "training needs training data (pass --data)");
  nlohmann::json epochs = nlohmann::json::array();
  if (config.epochs == 0) return {{"epochs", epochs}};
  auto on_epoch = [&](const EpochStats& stats) {
    spdlog::info("{} epoch {}/{}: loss {:.4f}, train accuracy {:.2f}%", what, stats.epoch + 1,
                 config.epochs, stats.train_loss, 100.0 * stats.train_accuracy);
    epochs.push_back(stats.to_json());
  };
  auto on_progress = [&](int64_t done, int64_t total) {
    if (context.progress) context.progress(done, total, what);
  };
  TrainingTerms all = context.terms;
  all.insert(all.end(), terms.begin(), terms.end());
  train(model, *context.train, config, on_epoch, on_progress, all);
  return {{"epochs", epochs}};
}

namespace {

class Finetune final : public Pass {
 public:
  explicit Finetune(const nlohmann::json& json) : overrides_(json.is_null() ? nlohmann::json::object() : json) {
    // Validate now (a typo fails before any work); the values are resolved against the
    // context's defaults when the pass runs.
    PassOptions options(name(), overrides_);
    read_training_options(options, name());
    terms_ = make_training_terms(options.get<nlohmann::json>("terms", nlohmann::json::array()));
    options.finish();
  }

  std::string name() const override { return "train.finetune"; }
  nlohmann::json options() const override { return overrides_; }

 private:
  nlohmann::json apply(Model& model, PassContext& context) override {
    return train_in_pass(model, context, training_config(overrides_, context.finetune), terms_,
                         "fine-tune");
  }

  nlohmann::json overrides_;
  TrainingTerms terms_;
};

}  // namespace

std::unique_ptr<Pass> make_finetune(const nlohmann::json& options) {
  return std::make_unique<Finetune>(options);
}

}  // namespace shrink
