#include "jobs/job_support.hpp"
#include "shrink/io/model_file.hpp"
#include "shrink/jobs/jobs.hpp"
#include "shrink/report/summary.hpp"

namespace shrink {

nlohmann::json run_inspect_job(const InspectJob& job) {
  const Model model = read_model(job.model);
  const ModelSummary summary = summarize_file(model, job.model);
  nlohmann::json report = summary.to_json();
  report["command"] = "inspect";
  report["model"] = job.model;
  report["input"] = {{"name", model.input_name()}, {"shape", model.input_shape()}};
  report["inputs"] = nlohmann::json::array();
  for (const ModelInput& input : model.inputs())
    report["inputs"].push_back({{"name", input.name}, {"shape", input.shape}});
  report["output_shape"] = model.output_shape();
  report["metadata"] = model.metadata;
  report["table"] = summary.to_table();
  return report;
}

}  // namespace shrink
