#pragma once
// Reads and writes a model by its file's kind: .shrk (our container) or .onnx.
#include "shrink/nn/model.hpp"

#include <string>

namespace shrink {

// Loads a .shrk or .onnx model; the error names the file and what is wrong with it.
Model read_model(const std::string& path);
// Writes atomically (temporary file + rename); the format follows the extension.
void write_model(const Model& model, const std::string& path);
// The model file's size on disk, in bytes.
int64_t file_bytes(const std::string& path);

}  // namespace shrink
