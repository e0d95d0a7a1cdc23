#pragma once
// shrink convert: a model from one file format to another (.onnx <-> .shrk, or a copy within
// one), optionally recording how its inputs were normalized during training.
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace shrink {

struct ConvertJob {
  std::string input;   // .onnx or .shrk
  std::string output;  // .onnx or .shrk; never the input itself
  // Stored into the model's metadata "normalization" (see Normalization in data/dataset.hpp):
  // x = (raw * scale - mean[c]) / std[c]. Empty mean/std and no scale keep what the model has;
  // an ONNX import starts from pixels scaled to [0, 1] (scale 1/255, mean 0, std 1).
  std::vector<float> mean;
  std::vector<float> std;
  std::optional<float> scale;
};

// Reads, updates the normalization, writes atomically. Report: command, input, output,
// input_name, input_shape, output_shape, nodes, parameters, macs, normalization, file_bytes.
nlohmann::json run_convert_job(const ConvertJob& job);

}  // namespace shrink
