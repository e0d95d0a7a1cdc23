#pragma once
// A small MLP (8 → hidden → hidden → 4) trained on four Gaussian blobs for 5 epochs, and the
// pass context that fine-tunes on the same data: what the quantization pass tests compress.
#include "shrink/compress/pass.hpp"
#include "shrink/data/dataset.hpp"
#include "shrink/nn/model.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace shrink::testing {

// The untrained MLP, initialised with seed 2.
Model blobs_mlp(int64_t hidden);

struct TrainedMlp {
  explicit TrainedMlp(int64_t hidden = 64);
  TrainedMlp(const TrainedMlp&) = delete;  // the context points at `data`
  Dataset data;
  Model model;
  PassContext context;
  // Runs `pass` on the model and returns its report section.
  nlohmann::json run(const std::string& pass, const nlohmann::json& options);
  double accuracy();  // on the training blobs
};

}  // namespace shrink::testing
