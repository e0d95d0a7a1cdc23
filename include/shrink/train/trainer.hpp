#pragma once
// Mini-batch training of a classifier: seeded shuffling, an optimizer, a per-epoch learning-rate
// schedule, optional validation split, and per-epoch statistics. The same config, seed and
// thread count give bit-identical weights.
#include "shrink/data/dataset.hpp"
#include "shrink/nn/model.hpp"
#include "shrink/train/training_term.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace shrink {

struct TrainConfig {
  int epochs = 1;
  int64_t batch_size = 64;
  bool drop_last = false;             // drop a last batch smaller than batch_size
  std::string optimizer = "sgd";      // sgd, adam, adamw (see make_optimizer)
  float lr = 0.01f;                   // base learning rate, shaped by `schedule`
  float momentum = 0.9f;              // sgd
  float weight_decay = 0.0f;          // L2 for sgd/adam, decoupled for adamw
  bool nesterov = false;              // sgd
  float beta1 = 0.9f;                 // adam, adamw
  float beta2 = 0.999f;               // adam, adamw
  float eps = 1e-8f;                  // adam, adamw
  std::string schedule = "constant";  // constant, step, cosine (per epoch, see make_schedule)
  int step_size = 10;                 // step: epochs between decays
  float gamma = 0.1f;                 // step: decay factor
  float min_lr = 0.0f;                // cosine: the floor
  float label_smoothing = 0.0f;
  double validation_fraction = 0.0;   // held out of the training data; 0 = no validation
  int64_t eval_batch_size = 256;      // for validation
  uint64_t seed = 0;                  // shuffling, validation split and dropout

  // Throws a bad-input Error naming the first invalid field.
  void validate() const;
  nlohmann::json to_json() const;
  // Fields by their names above; missing ones keep their defaults, unknown ones are errors.
  static TrainConfig from_json(const nlohmann::json& json);
  // The options make_optimizer(optimizer, ...) takes for this config.
  nlohmann::json optimizer_options() const;
};

struct EpochStats {
  int epoch = 0;   // 0-based, as the schedule counts (print epoch + 1)
  int epochs = 0;  // of the run
  float lr = 0.0f;
  // Over the epoch's batches as they were trained (training mode, weights still moving).
  double train_loss = 0.0;
  double train_accuracy = 0.0;
  bool has_validation = false;
  double validation_loss = 0.0;      // after the epoch, inference mode
  double validation_accuracy = 0.0;
  int64_t samples = 0;               // trained this epoch
  double seconds = 0.0;              // training and validation
  double samples_per_s = 0.0;        // training only
  // With terms: the epoch's mean of each term's loss and of the weighted cross-entropy
  // ("cross_entropy"), and whatever the terms added at the epoch's end.
  std::map<std::string, double> term_losses;
  nlohmann::json term_reports = nlohmann::json::object();

  // {"epoch" (1-based, as the log prints it), "epochs", "lr", "train_loss", "train_accuracy",
  // "samples", "seconds", "samples_per_s"; with validation "validation_loss" and
  // "validation_accuracy"; with terms "losses" and what the terms reported}
  nlohmann::json to_json() const;
};

struct TrainResult {
  std::vector<EpochStats> history;
  int64_t train_samples = 0;       // after the validation split
  int64_t validation_samples = 0;
  double seconds = 0.0;            // the whole run, validation included
  double samples_per_s = 0.0;      // training throughput over all epochs, validation excluded

  // {"train_samples", "validation_samples", "seconds", "samples_per_s", "epochs": [...]}
  nlohmann::json to_json() const;
};

// Trains `model` on `train` (minus the validation split) with `config`. Calls on_epoch after
// each epoch and on_progress(samples done, samples total) over the whole run after each batch.
// `terms` add to the objective (distillation, regularisers) or act at fixed points of the loop
// (pruning schedules, sparse training); see training_term.hpp. Throws a bad-input Error if the
// loss stops being finite (a learning rate too high, usually).
TrainResult train(Model& model, const Dataset& train, const TrainConfig& config,
                  const std::function<void(const EpochStats&)>& on_epoch = {},
                  const std::function<void(int64_t done, int64_t total)>& on_progress = {},
                  const TrainingTerms& terms = {});

}  // namespace shrink
