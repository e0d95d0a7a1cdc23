#include "shrink/jobs/convert_job.hpp"

#include "jobs/job_support.hpp"
#include "shrink/core/error.hpp"
#include "shrink/data/dataset.hpp"
#include "shrink/io/model_file.hpp"

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
    normalization.validate(model.input_shape().at(0));
    model.metadata["normalization"] = normalization.to_json();
  }

  write_model(model, job.output);
  return {{"command", "convert"},
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
