#pragma once
// Accuracy and loss of a model over a labelled dataset, in inference mode.
#include "shrink/data/dataset.hpp"
#include "shrink/nn/model.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace shrink {

struct Evaluation {
  double accuracy = 0.0;       // top-1, in [0, 1]
  double top5_accuracy = 0.0;  // label among the 5 highest logits (all of them if fewer)
  double loss = 0.0;           // mean cross-entropy
  int64_t samples = 0;
  double seconds = 0.0;        // the whole pass
  double samples_per_s = 0.0;  // after the first batch (one-time costs); whole pass if one batch
  // Per class of the dataset: top-1 accuracy (0 for a class without samples) and sample count.
  std::vector<double> per_class_accuracy;
  std::vector<int64_t> per_class_count;
  std::vector<std::string> class_names;  // the dataset's, for reports
  // Per sample, in dataset order: the top-1 class (-1 when a logit is NaN) and its softmax
  // probability. Not in to_json (10 000 numbers); per-class impact compares them.
  std::vector<int32_t> predictions;
  std::vector<float> confidences;

  // {"accuracy", "top5_accuracy", "loss", "samples", "seconds", "samples_per_s",
  //  "per_class_accuracy": [...], "per_class_count": [...], "classes": [names]}
  nlohmann::json to_json() const;
};

// Throws a bad-input Error unless `data` can feed `model`: same sample shape as the model input,
// a model output of one logit per class (at least data.num_classes), and at least one sample.
void require_compatible(const Model& model, const Dataset& data);

// Runs `model` in inference mode (no gradients, BatchNorm running statistics, no dropout) over
// `data` in order. A prediction is the first index of the largest logit, so ties resolve the
// same way everywhere; a NaN logit for the true class never counts as correct.
Evaluation evaluate(Model& model, const Dataset& data, int64_t batch_size = 256);

}  // namespace shrink
