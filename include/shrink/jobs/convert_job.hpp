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
  // Gives each compressible weight that is mostly (>= 50%) exact zeros and has no mask one that
  // keeps its non-zeros, so fine-tuning a pruned model that lost its masks (through ONNX) keeps
  // it pruned. Without it, such weights are only warned about.
  bool masks_from_zeros = false;
};

// Reads, updates the normalization (and masks), writes atomically. Report: command, input,
// output, masks_from_zeros (the weights that got a mask), input_name, input_shape, output_shape,
// nodes, parameters, macs, normalization, file_bytes.
nlohmann::json run_convert_job(const ConvertJob& job);

}  // namespace shrink
