#include "shrink/jobs/run_job.hpp"

#include "shrink/core/error.hpp"
#include "shrink/io/model_file.hpp"
#include "shrink/io/onnx.hpp"
#include "shrink/io/tensor_file.hpp"
#include "shrink/nn/fused_execution.hpp"
#include "shrink/nn/int8_execution.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>

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

namespace {

std::string input_names(const Model& model) {
  std::string names;
  for (const ModelInput& in : model.inputs()) names += (names.empty() ? "'" : ", '") + in.name + "'";
  return names;
}

// The graph inputs an ONNX model read as constants when it was loaded (see load_onnx).
std::set<std::string> constant_inputs(const Model& model) {
  std::set<std::string> names;
  if (model.metadata.contains("onnx") && model.metadata["onnx"].contains("constant_inputs"))
    for (const auto& name : model.metadata["onnx"]["constant_inputs"])
      if (name.is_string()) names.insert(name.get<std::string>());
  return names;
}

// An ONNX model is loaded with the named inputs' values: a graph input that does not share the
// batch axis (a scalar, Gemm's B) or that shrink needs constant (a weight given as an input)
// becomes a constant of the model, read from its file like any other input.
Model load_model_for_run(const RunJob& job) {
  if (std::filesystem::path(job.model).extension() != ".onnx") return read_model(job.model);
  std::map<std::string, Tensor> values;
  for (const auto& [name, path] : job.inputs)
    if (!name.empty() && !values.count(name)) values[name] = read_tensor_file(path);
  return load_onnx(job.model, values);
}

// The file given for each model input, in the model's input order.
std::vector<std::string> input_files(const Model& model, const RunJob& job) {
  const std::vector<ModelInput>& inputs = model.inputs();
  const std::set<std::string> constants = constant_inputs(model);
  std::vector<std::string> files(inputs.size());
  std::set<std::string> seen;
  for (const auto& input : job.inputs) {
    const std::string& name = input.first;  // named: clang 14 lambdas cannot capture bindings
    const std::string& path = input.second;
    if (constants.count(name)) {
      require(seen.insert(name).second, "--input " + name + " is given twice");
      continue;  // read when the model was loaded
    }
    if (name.empty()) {
      require(inputs.size() == 1 && job.inputs.size() == 1,
              "--input " + path + " names no input, but the model takes " +
                  std::to_string(inputs.size()) + " (" + input_names(model) +
                  "); write one --input NAME=FILE for each");
      files[0] = path;
      continue;
    }
    const auto it = std::find_if(inputs.begin(), inputs.end(),
                                 [&](const ModelInput& in) { return in.name == name; });
    require(it != inputs.end(), "the model has no input named '" + name + "'; its input" +
                                    (inputs.size() > 1 ? "s are " : " is ") + input_names(model));
    const size_t k = static_cast<size_t>(it - inputs.begin());
    require(files[k].empty(), "--input " + name + " is given twice");
    files[k] = path;
  }
  for (size_t k = 0; k < inputs.size(); ++k)
    require(!files[k].empty(), "no --input for the model input '" + inputs[k].name +
                                   "'; the model takes " + input_names(model) +
                                   " (one --input NAME=FILE each)");
  return files;
}

}  // namespace

nlohmann::json run_run_job(const RunJob& job) {
  namespace fs = std::filesystem;
  Model model = load_model_for_run(job);
  const std::vector<std::string> files = input_files(model, job);

  // Each tensor is [N, ...sample]; or, for all of them alike, one sample without the batch axis.
  std::vector<Tensor> tensors;
  nlohmann::json inputs_report = nlohmann::json::array();
  int unbatched = 0;
  for (size_t k = 0; k < files.size(); ++k) {
    const ModelInput& in = model.inputs()[k];
    Tensor tensor = read_tensor_file(files[k]);
    inputs_report.push_back({{"name", in.name}, {"path", files[k]}, {"shape", tensor.shape()}});
    if (tensor.shape() == in.shape) {
      Shape batched{1};
      batched.insert(batched.end(), in.shape.begin(), in.shape.end());
      tensor.reshape(batched);
      ++unbatched;
    }
    require(tensor.rank() == in.shape.size() + 1 &&
                Shape(tensor.shape().begin() + 1, tensor.shape().end()) == in.shape,
            files[k] + " holds a tensor of shape " + to_string(tensor.shape()) +
                " but the model input '" + in.name + "' takes [N, " +
                to_string(in.shape).substr(1));
    tensors.push_back(std::move(tensor));
  }
  // The inputs read as constants when the model was loaded, in the report too.
  const std::set<std::string> constants = constant_inputs(model);
  for (const auto& [name, path] : job.inputs)
    if (constants.count(name))
      inputs_report.push_back({{"name", name}, {"path", path}, {"read_as_constant", true}});
  const bool single = unbatched > 0;
  require(!single || unbatched == static_cast<int>(files.size()),
          "some inputs hold one sample without the batch axis and others a batch; give every "
          "input the same way");
  std::vector<const Tensor*> pointers;
  for (const Tensor& t : tensors) pointers.push_back(&t);

  // A quantized model runs its int8 layers on int8 kernels (SHRINK_INT8=off: the QDQ graph),
  // any other its fused layers (SHRINK_FUSE=off: node by node).
  std::optional<Model> lowered = inference_model(model);
  const auto start = std::chrono::steady_clock::now();
  Tensor assembled;
  Tensor output = forward_in_slices(lowered ? *lowered : model, pointers, assembled);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (single) output.reshape(Shape(output.shape().begin() + 1, output.shape().end()));

  // Created when missing, parents included, as other tools do; only now, so a run that fails
  // leaves no empty directory behind.
  std::error_code error;
  fs::create_directories(job.output_dir, error);
  require(fs::is_directory(job.output_dir),
          "cannot create the output directory " + job.output_dir +
              (error ? " (" + error.message() + ")" : std::string(" (a file of that name exists)")));
  const std::string output_name = output_name_of(model);
  const TensorFileFormat format = tensor_file_format(files.front());
  const std::string out_path =
      (fs::path(job.output_dir) / (file_stem_for(output_name) + tensor_file_extension(format))).string();
  write_tensor_file(output, out_path, output_name);

  return {{"command", "run"},
          {"model", job.model},
          {"inputs", inputs_report},
          {"outputs", nlohmann::json::array({{{"name", output_name},
                                              {"path", out_path},
                                              {"shape", output.shape()}}})},
          {"seconds", seconds},
          // The layers that ran on the int8 kernels (0 with SHRINK_INT8=off, or no int8 model).
          {"int8_layers", lowered && int8_execution_enabled() ? plan_int8_execution(model).size() : 0}};
}

}  // namespace shrink
