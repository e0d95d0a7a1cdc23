#include "shrink/io/container.hpp"
#include "shrink/io/model_file.hpp"
#include "shrink/jobs/jobs.hpp"
#include "shrink/report/summary.hpp"

#include <filesystem>

namespace shrink {

nlohmann::json run_inspect_job(const InspectJob& job) {
  const Model model = read_model(job.model);
  std::map<std::string, TensorStorage> storage;
  if (std::filesystem::path(job.model).extension() == ".shrk")
    for (const TensorRecord& record : list_tensors(job.model))
      storage[record.name] = {record.encoding, record.bytes};
  const ModelSummary summary = summarize(model, storage, file_bytes(job.model));
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
