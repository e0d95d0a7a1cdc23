#pragma once
// The .shrk model file: a safetensors file (any safetensors reader can list it) whose
// __metadata__ carries the graph, the model metadata and how each tensor is encoded. Pruned
// tensors are stored sparse, so the file's size is the size a report quotes.
// Byte-level specification: docs/file-format.md.
#include "shrink/core/tensor.hpp"
#include "shrink/nn/model.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shrink {

inline constexpr const char* kShrkFormat = "shrink";
inline constexpr int kShrkFormatVersion = 1;

// Writes the model atomically (temporary file, then rename): a crash never leaves half a file.
void save_model(const Model& model, const std::string& path);
// Reads a model saved by save_model. Every problem (missing, truncated or corrupt file, a plain
// safetensors file without a graph, tensors that do not fit the graph) is a bad-input Error
// naming the file and, where there is one, the tensor.
Model load_model_shrk(const std::string& path);

// The exact bytes save_model writes; the same model always gives the same bytes.
std::string serialize_model(const Model& model);
// Rebuilds a model from serialize_model's bytes; `origin` names them in error messages.
Model deserialize_model(std::string_view bytes, const std::string& origin);

struct TensorRecord {
  std::string name;
  std::string encoding;  // "dense", "sparse-bitmap", ...; "dense-<DTYPE>" for a non-F32 tensor
                         // of a plain safetensors file
  Shape shape;           // the parameter's shape, not the stored byte tensor's
  int64_t bytes = 0;     // stored bytes, padding included
  int64_t nonzeros = 0;  // elements that are not zero
  std::string format;    // a quantized tensor's weight format ("affine"), else empty
  int bits = 32;         // bits per stored value: the quantizer's code width, or 32
};

// The tensors of a .shrk file in storage order (for `shrink inspect`). A plain safetensors file
// is listed too, its tensors as stored.
std::vector<TensorRecord> list_tensors(const std::string& path);

}  // namespace shrink
