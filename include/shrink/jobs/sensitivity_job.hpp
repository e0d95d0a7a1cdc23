#pragma once
// shrink sensitivity: how much pruning each layer of a model takes on its own (per-layer
// accuracy against sparsity, include/shrink/compress/sensitivity.hpp), as a report, a table and
// an SVG plot with one curve per layer.
#include "shrink/compress/sensitivity.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace shrink {

struct SensitivityJob {
  std::string model;
  std::string data = "fashion-mnist";
  std::string split = "test";  // where accuracy is measured: "test" or "train"
  int64_t samples = 0;         // 0: the whole split; otherwise a random subset of this many
  uint64_t seed = 0;           // the subset, and the calibration sample of loss-based criteria
  SensitivityOptions options;
  std::string svg;             // the plot, when given (.svg)
};

// Report: command, model, data, split, samples, the Sensitivity fields (criterion, sparsities,
// accuracy, loss, layers[]), and svg when drawn. The training split of `data` is loaded only
// for the criteria that calibrate on it.
nlohmann::json run_sensitivity_job(const SensitivityJob& job);

}  // namespace shrink
