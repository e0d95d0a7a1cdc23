#pragma once
// The per-layer picture of a model that `shrink inspect` prints: shapes, parameters, non-zeros,
// how each tensor is stored and what it costs, and the MACs of one forward pass.
#include "shrink/nn/model.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace shrink {

struct TensorStorage {
  std::string encoding;  // "dense", "sparse-bitmap", ...
  int64_t bytes = 0;     // on disk
};

struct LayerSummary {
  std::string name;
  std::string type;
  Shape output_shape;     // per sample
  int64_t parameters = 0;  // trainable elements
  int64_t nonzeros = 0;
  int64_t macs = 0;            // dense
  int64_t effective_macs = 0;  // skipping zero weights
  std::vector<std::string> encodings;
  std::vector<std::string> formats;  // per parameter: "fp32", or a quantized one's "affine:4", "pq:d4k256"
  std::vector<double> bits_per_weight;  // per parameter: 32, or its codes' bits per element (pq: bits / d)
  int64_t bytes = 0;  // on disk, all of the node's tensors
};

struct ModelSummary {
  std::vector<LayerSummary> layers;
  int64_t parameters = 0;
  int64_t nonzeros = 0;
  int64_t macs = 0;
  int64_t effective_macs = 0;
  double weight_sparsity = 0.0;  // over Linear/Conv2d weights
  int64_t tensor_bytes = 0;
  int64_t file_bytes = 0;  // 0 when the model was not read from a file

  nlohmann::json to_json() const;
  std::string to_table() const;
};

// `storage` maps parameter names to how the file stores them (empty: in memory, dense float).
ModelSummary summarize(const Model& model,
                       const std::map<std::string, TensorStorage>& storage = {},
                       int64_t file_bytes = 0);

// Human-readable numbers: 431080 -> "431.1K", 1723904 bytes -> "1.64 MiB".
std::string format_count(double value);
std::string format_bytes(double bytes);

}  // namespace shrink
