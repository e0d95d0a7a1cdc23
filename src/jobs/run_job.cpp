#include "shrink/jobs/run_job.hpp"

#include "shrink/core/error.hpp"
#include "shrink/io/model_file.hpp"
#include "shrink/io/tensor_file.hpp"

#include <chrono>
#include <filesystem>

namespace shrink {
namespace {

// The name people know the output by: the ONNX graph's output name when the model came from one.
std::string output_name_of(const Model& model) {
  if (model.metadata.contains("onnx") && model.metadata["onnx"].contains("output")) {
    const auto& name = model.metadata["onnx"]["output"];
    if (name.is_string() && !name.get<std::string>().empty()) return name.get<std::string>();
  }
  return model.output_name();
}

std::string file_stem_for(const std::string& name) {
  std::string stem;
  for (char c : name) stem += (c == '/' || c == '\\' || c == ':' || c == ' ') ? '_' : c;
  return stem.empty() || stem == "." || stem == ".." ? "output" : stem;
}

}  // namespace

std::pair<std::string, std::string> parse_input_binding(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos) return {"", text};
  require(eq + 1 < text.size(), "--input " + text + " names no file; write NAME=FILE");
  return {text.substr(0, eq), text.substr(eq + 1)};
}

nlohmann::json run_run_job(const RunJob& job) {
  namespace fs = std::filesystem;
  Model model = read_model(job.model);
  require(job.inputs.size() == 1,
          "the model takes one input ('" + model.input_name() + "'); give exactly one --input, "
          "got " + std::to_string(job.inputs.size()));
  const auto& [name, path] = job.inputs[0];
  require(name.empty() || name == model.input_name(),
          "the model has no input named '" + name + "'; its input is '" + model.input_name() + "'");
  require(fs::is_directory(job.output_dir),
          "output directory " + job.output_dir + " does not exist");

  Tensor input = read_tensor_file(path);
  const Shape& sample = model.input_shape();
  const bool single = input.shape() == sample;
  if (single) {
    Shape batched{1};
    batched.insert(batched.end(), sample.begin(), sample.end());
    input.reshape(batched);
  }
  require(input.rank() == sample.size() + 1 && Shape(input.shape().begin() + 1, input.shape().end()) == sample,
          path + " holds a tensor of shape " + to_string(input.shape()) + " but the model input '" +
              model.input_name() + "' takes [N, " + to_string(sample).substr(1));

  const auto start = std::chrono::steady_clock::now();
  Tensor output = model.forward(input, false);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (single) output.reshape(Shape(output.shape().begin() + 1, output.shape().end()));

  const std::string output_name = output_name_of(model);
  const TensorFileFormat format = tensor_file_format(path);
  const std::string out_path =
      (fs::path(job.output_dir) / (file_stem_for(output_name) + tensor_file_extension(format))).string();
  write_tensor_file(output, out_path, output_name);

  return {{"command", "run"},
          {"model", job.model},
          {"inputs", nlohmann::json::array({{{"name", model.input_name()},
                                             {"path", path},
                                             {"shape", input.shape()}}})},
          {"outputs", nlohmann::json::array({{{"name", output_name},
                                              {"path", out_path},
                                              {"shape", output.shape()}}})},
          {"seconds", seconds}};
}

}  // namespace shrink
