#include "jobs/job_support.hpp"

#include "shrink/core/error.hpp"
#include "shrink/core/file.hpp"
#include "shrink/core/threading.hpp"
#include "shrink/io/container.hpp"
#include "shrink/io/model_file.hpp"
#include "shrink/io/onnx.hpp"
#include "shrink/nn/weights.hpp"
#include "shrink/report/class_impact.hpp"
#include "shrink/report/sample_grid.hpp"
#include "shrink/version.hpp"

#include <spdlog/spdlog.h>

#include <cmath>
#include <filesystem>

namespace shrink {

void warn_about_unmasked_zeros(const Model& model, const std::string& advice) {
  const std::vector<const Parameter*> found = unmasked_sparse_weights(model);
  if (found.empty()) return;
  std::string list;
  for (const Parameter* p : found) {
    const double zeros = 1.0 - static_cast<double>(p->nonzeros()) / p->value.numel();
    list += (list.empty() ? "" : ", ") + p->name + " " + std::to_string(std::lround(100 * zeros)) + "%";
  }
  spdlog::warn("{} weight(s) are mostly zeros but have no pruning mask ({}), so training would "
               "regrow them; {}",
               found.size(), list, advice);
}

Dataset load_data_for_model(const Model& model, const std::string& spec, const std::string& split) {
  Dataset data = load_dataset(spec, split);
  if (model.metadata.contains("normalization"))
    data.normalization = Normalization::from_json(model.metadata["normalization"]);
  require(model.inputs().size() == 1,
          "the model takes " + std::to_string(model.inputs().size()) + " inputs; " + data.name +
              " gives one tensor per sample (shrink run feeds several)");
  require(data.sample_shape == model.input_shape(),
          "the model expects samples of shape " + to_string(model.input_shape()) + " but " +
              data.name + " has samples of shape " + to_string(data.sample_shape));
  const auto output = model.output_shape();
  require(output.size() == 1 && output[0] >= data.num_classes,
          "the model outputs " + to_string(output) + " per sample but " + data.name + " has " +
              std::to_string(data.num_classes) + " classes");
  // After the checks: a failing command prints its one error line and nothing else.
  if (split == "test" && !has_separate_test_split(spec))
    spdlog::warn("{} has no test split, so the training file stands in for it: its accuracy is "
                 "not a test accuracy (name the files FILE-{{split}}.csv to keep a test file "
                 "apart, or hold out data with --validation)",
                 spec);
  return data;
}

void record_training(Model& model, const Dataset& train_data, const std::string& data_spec,
                     const TrainConfig& config) {
  model.metadata["classes"] = train_data.class_names;
  model.metadata["normalization"] = train_data.normalization.to_json();
  model.metadata["dataset"] = data_spec;
  model.metadata["training"] = {{"config", config.to_json()},
                                {"threads", num_threads()},
                                {"producer", std::string(kProducerName) + " " + kVersion}};
}

void check_output_path(const std::string& output, const std::string& input) {
  namespace fs = std::filesystem;
  require(!output.empty(), "an output path is required (-o FILE.shrk)");
  const std::string ext = fs::path(output).extension().string();
  require(ext == ".shrk" || ext == ".onnx",
          "output " + output + " must end in .shrk or .onnx");
  check_writable(output, "model");
  if (!input.empty()) {
    std::error_code error;
    const bool same = fs::exists(output) && fs::equivalent(input, output, error);
    require(!same && fs::absolute(input).lexically_normal() != fs::absolute(output).lexically_normal(),
            "output " + output + " is the input model; choose another path (the input is never overwritten)");
  }
}

void check_output_file(const std::string& path, const std::string& extension) {
  namespace fs = std::filesystem;
  require(fs::path(path).extension() == extension, path + " must end in " + extension);
  const fs::path parent = fs::absolute(path).parent_path();
  require(fs::is_directory(parent), "cannot write " + path + ": directory " + parent.string() +
                                        " does not exist");
}

ModelSummary summarize_file(const Model& model, const std::string& path) {
  std::map<std::string, TensorStorage> storage;
  if (std::filesystem::path(path).extension() == ".shrk")
    for (const TensorRecord& record : list_tensors(path)) storage[record.name] = {record.encoding, record.bytes};
  return summarize(model, storage, file_bytes(path));
}

nlohmann::json class_impact_section(const Evaluation& before, const Evaluation& after,
                                    const Dataset& data, const std::string& svg_path,
                                    const std::string& before_name, const std::string& after_name) {
  const ClassImpact impact =
      class_impact(data.labels(), before.predictions, after.predictions, after.confidences, data.class_names);
  nlohmann::json section = impact.to_json();
  if (!svg_path.empty()) {
    if (samples_are_images(data)) {
      write_file_atomic(svg_path, changed_samples_svg(data, impact.changed, 48, before_name, after_name));
      section["changed_samples_svg"] = svg_path;
    } else {
      spdlog::warn("not drawing {}: the samples of {} are not images", svg_path, data.name);
    }
  }
  return section;
}

void warn_if_onnx_dequantizes(const Model& model, const std::string& output) {
  if (std::filesystem::path(output).extension() != ".onnx") return;
  int64_t quantized = 0;
  for (const Parameter* p : model.parameters()) quantized += p->quantized() && !onnx_exports_as_integers(*p);
  if (quantized > 0)
    spdlog::warn("{} holds the model's {} quantized weight tensors dequantized to fp32, as any "
                 "ONNX runtime can run them, so they take 32 bits per weight; save to .shrk to "
                 "store them at their bit width",
                 output, quantized);
}

}  // namespace shrink
