#include "shrink/jobs/convert_job.hpp"

#include "jobs/job_support.hpp"
#include "shrink/core/error.hpp"
#include "shrink/data/dataset.hpp"
#include "shrink/io/model_file.hpp"
#include "shrink/nn/weights.hpp"

namespace shrink {

nlohmann::json run_convert_job(const ConvertJob& job) {
  require(!job.input.empty(), "convert needs an input model file");
  check_output_path(job.output, job.input);
  Model model = read_model(job.input);

  if (!job.mean.empty() || !job.std.empty() || job.scale) {
    Normalization normalization;
    if (model.metadata.contains("normalization"))
      normalization = Normalization::from_json(model.metadata["normalization"]);
    if (!job.mean.empty()) normalization.mean = job.mean;
    if (!job.std.empty()) normalization.std = job.std;
    if (job.scale) normalization.scale = *job.scale;
    // Channels are the first per-sample axis: C of [C, H, W] images, the features of vectors.
    require(model.inputs().size() == 1,
            "--mean, --std and --scale describe the samples of a single-input model; this one "
            "takes " + std::to_string(model.inputs().size()) + " inputs");
    require(!model.input_shape().empty(),
            "--mean, --std and --scale need a channel axis, but the model's samples are scalars");
    normalization.validate(model.input_shape()[0]);
    model.metadata["normalization"] = normalization.to_json();
  }

  nlohmann::json masked = nlohmann::json::array();
  if (job.masks_from_zeros)
    for (const std::string& name : masks_from_zeros(model)) masked.push_back(name);
  else
    warn_about_unmasked_zeros(model, "add --masks-from-zeros to keep their zeros pruned");

  warn_if_onnx_dequantizes(model, job.output);
  write_model(model, job.output);
  return {{"command", "convert"},
          {"masks_from_zeros", masked},
          {"input", job.input},
          {"output", job.output},
          {"input_name", model.input_name()},
          {"input_shape", model.input_shape()},
          {"output_shape", model.output_shape()},
          {"nodes", model.nodes().size()},
          {"parameters", model.parameter_count()},
          {"macs", model.macs()},
          {"normalization", model.metadata.value("normalization", nlohmann::json())},
          {"file_bytes", file_bytes(job.output)}};
}

}  // namespace shrink
