#pragma once
// Per-layer pruning sensitivity (Han et al., "Learning both Weights and Connections for Efficient
// Neural Networks", 2015, Fig. 6): each layer pruned on its own to each sparsity, the rest left
// as they are, and the model evaluated — how much pruning each layer takes before accuracy
// falls, which is what a user needs to choose per-layer ratios.
#include "shrink/compress/pass.hpp"
#include "shrink/data/dataset.hpp"
#include "shrink/nn/model.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace shrink {

struct SensitivityOptions {
  std::vector<double> sparsities = {0.5, 0.7, 0.9};  // each in [0, 1)
  // The unstructured pruning pass, "prune.<criterion>" (magnitude, snip, taylor, fisher, obd,
  // obs), with its own options (e.g. {"samples": 512}); loss-based ones calibrate on
  // PassContext::train.
  std::string criterion = "magnitude";
  nlohmann::json criterion_options = nlohmann::json::object();
  int64_t batch_size = 256;  // for evaluation
};

struct LayerSensitivity {
  std::string weight;             // "fc1.weight"
  int64_t size = 0;               // its elements
  double sparsity_before = 0.0;   // pruned already in the model given
  std::vector<double> accuracy;   // one per sparsity
  std::vector<double> loss;
};

struct Sensitivity {
  std::string criterion;
  std::vector<double> sparsities;
  double accuracy = 0.0;  // the model as given
  double loss = 0.0;
  int64_t samples = 0;
  std::vector<LayerSensitivity> layers;  // in graph order

  // {"criterion", "sparsities", "accuracy", "loss", "samples", "layers": [{"weight", "size",
  //  "sparsity_before", "accuracy": [...], "loss": [...], "accuracy_change": [...]}]}
  nlohmann::json to_json() const;
};

// Prunes every compressible weight of `model` alone (on a copy; `model` is untouched) to each
// sparsity with the criterion and evaluates the copy on `data`. Bad options (no sparsity, one
// outside [0, 1), an unknown criterion or option) are bad-input Errors before any work.
Sensitivity layer_sensitivity(const Model& model, const Dataset& data, const PassContext& context,
                              const SensitivityOptions& options);

}  // namespace shrink
