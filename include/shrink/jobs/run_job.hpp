#pragma once
// shrink run: a model on tensors from files (NumPy .npy or ONNX TensorProto .pb), the output
// written beside them in the same format, the way people compare two runtimes.
#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

namespace shrink {

struct RunJob {
  std::string model;
  // (input name, file), one per model input in any order; an empty name stands for the only
  // input of a single-input model.
  std::vector<std::pair<std::string, std::string>> inputs;
  std::string output_dir = ".";
};

// Parses "NAME=FILE" (or a bare "FILE") as given to --input.
std::pair<std::string, std::string> parse_input_binding(const std::string& text);

// Runs the model in inference mode on the input tensors (each [N, ...sample] with the same N, or
// each one sample without the batch axis, which the output then omits too) and writes
// "<output name><ext>" into output_dir (created when missing), ext taken from the first input
// file. Report: command, model, inputs[], outputs[] with name, path, shape, seconds.
nlohmann::json run_run_job(const RunJob& job);

}  // namespace shrink
