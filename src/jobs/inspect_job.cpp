#include "jobs/job_support.hpp"
#include "shrink/io/code_statistics.hpp"
#include "shrink/io/container.hpp"
#include "shrink/io/model_file.hpp"
#include "shrink/jobs/jobs.hpp"
#include "shrink/report/summary.hpp"

#include <spdlog/fmt/fmt.h>

#include <filesystem>
#include <map>

namespace shrink {
namespace {

// Per quantized weight: the empirical entropy of its codes and sparse gaps (an order-0 coder's
// lower bound) beside the bytes the file spends on it; into report["entropy"] and a table.
std::string entropy_table(const Model& model, nlohmann::json& report) {
  std::map<std::string, int64_t> stored;
  const std::string path = report["model"].get<std::string>();
  if (std::filesystem::path(path).extension() == ".shrk")
    for (const TensorRecord& record : list_tensors(path)) stored[record.name] = record.bytes;
  std::string table;
  report["entropy"] = nlohmann::json::array();
  for (const auto& p : model.parameters()) {
    const auto statistics = code_statistics(*p);
    if (!statistics) continue;
    nlohmann::json row = {{"name", p->name},
                          {"codes", statistics->codes},
                          {"code_entropy_bits", statistics->code_entropy_bits},
                          {"gaps", statistics->gaps},
                          {"gap_entropy_bits", statistics->gap_entropy_bits},
                          {"entropy_bytes", statistics->entropy_bytes()}};
    if (table.empty())
      table = fmt::format("\n{:<22} {:>10} {:>12} {:>12} {:>14}\n", "weight", "codes",
                          "bits/code", "bits/gap", "entropy bytes");
    table += fmt::format("{:<22} {:>10} {:>12.3f} {:>12} {:>14.0f}", p->name, statistics->codes,
                         statistics->codes ? statistics->code_entropy_bits / static_cast<double>(statistics->codes) : 0.0,
                         statistics->gaps ? fmt::format("{:.3f}", statistics->gap_entropy_bits /
                                                                      static_cast<double>(statistics->gaps))
                                          : std::string("-"),
                         statistics->entropy_bytes());
    if (auto it = stored.find(p->name); it != stored.end()) {
      row["bytes"] = it->second;
      table += fmt::format("  (stored in {} bytes)", it->second);
    }
    table += "\n";
    report["entropy"].push_back(row);
  }
  return table;
}

}  // namespace

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
  report["table"] = summary.to_table() + entropy_table(model, report);
  return report;
}

}  // namespace shrink
