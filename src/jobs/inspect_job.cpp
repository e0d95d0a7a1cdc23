#include "jobs/job_support.hpp"
#include "nn/kernels/sparse_conv.hpp"
#include "nn/kernels/sparse_linear.hpp"
#include "shrink/nn/int8_execution.hpp"
#include "shrink/io/code_statistics.hpp"
#include "shrink/io/container.hpp"
#include "shrink/io/model_file.hpp"
#include "shrink/jobs/jobs.hpp"
#include "shrink/report/summary.hpp"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
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

// Which kernel each Linear and Conv2d layer's inference runs on, for batches of 1-2 samples
// and for larger ones: the sparse kernels for a weight at or below its threshold (a Linear's
// per kernel, a convolution's one; none with SHRINK_SPARSE=off), else the dense ones;
// into report["kernels"] and a table.
std::string kernel_table(const Model& model, nlohmann::json& report) {
  report["kernels"] = nlohmann::json::array();
  std::string table;
  for (const Node& node : model.nodes()) {
    const std::string type = node.op->type();
    if ((type != "Linear" && type != "Conv2d") || node.parameters.empty()) continue;
    const Parameter& w = model.parameter(node.parameters[0]);
    const int64_t nonzeros = w.nonzeros(), elements = w.value.numel();
    const auto kernel = [&](int64_t batch) {
      // A convolution's rule does not depend on the batch: its sparse product runs per sample.
      const bool sparse = type == "Linear" ? kernels::runs_sparse(nonzeros, elements, batch)
                                           : kernels::conv_runs_sparse(nonzeros, elements);
      return sparse ? "sparse" : "dense";
    };
    const char* small = kernel(1);
    const char* large = kernel(kernels::kSparseSlicesBatch + 1);
    const double density = elements ? static_cast<double>(nonzeros) / static_cast<double>(elements) : 0.0;
    report["kernels"].push_back({{"layer", node.name},
                                 {"type", type},
                                 {"weight_density", density},
                                 {"batch_1_2", small},
                                 {"batch_3_up", large}});
    if (table.empty())
      table = fmt::format(
          "\ninference kernels (a Linear weight runs sparse at most {:.0f}% dense at batch 1-2, "
          "{:.0f}% above; a Conv2d weight at most {:.0f}%{})\n{:<22} {:<8} {:<10} {:<10} {}\n",
          100.0 * kernels::kSparseSlicesDensity, 100.0 * kernels::kSparseBroadcastDensity,
          100.0 * kernels::kSparseConvDensity,
          kernels::sparse_execution_enabled() ? "" : "; off by SHRINK_SPARSE=off", "layer", "type",
          "batch 1-2", "batch 3+", "weight density");
    table += fmt::format("{:<22} {:<8} {:<10} {:<10} {:.1f}%\n", node.name, type, small, large, 100.0 * density);
  }
  return table;
}

// Which layers of a quantized (QDQ) model eval and run execute on int8 kernels, what each
// reads and writes; into report["int8"] and a table.
std::string int8_table(const Model& model, nlohmann::json& report) {
  const std::vector<Int8LayerPlan> plans = plan_int8_execution(model);
  if (plans.empty()) return "";
  const bool enabled = int8_execution_enabled();
  report["int8"] = {{"enabled", enabled}, {"kernels", int8_kernel_isa()}, {"layers", nlohmann::json::array()}};
  std::string table = fmt::format(
      "\nint8 execution ({}; oneDNN {} kernels)\n{:<22} {:<8} {:<28} {:<12} {}\n",
      enabled ? "eval and run lower these layers, SHRINK_INT8=off keeps the QDQ graph in fp32"
              : "off by SHRINK_INT8=off: the QDQ graph runs in fp32",
      int8_kernel_isa(), "layer", "type", "input codes", "fused ReLU", "output");
  for (const Int8LayerPlan& plan : plans) {
    const std::string output =
        plan.output.empty() ? std::string("fp32") : plan.output_type + " codes of " + plan.output;
    std::string via;
    if (!plan.pool.empty()) via = " (pooled by " + plan.pool + " inside";
    for (const std::string& node : plan.through) via += (via.empty() ? " (through " : ", then ") + node;
    report["int8"]["layers"].push_back({{"layer", plan.layer},
                                        {"type", plan.type},
                                        {"input", plan.input},
                                        {"input_type", plan.input_type},
                                        {"quantizes_input", plan.quantizes_input},
                                        {"relu", plan.relu.empty() ? nlohmann::json(nullptr) : nlohmann::json(plan.relu)},
                                        {"output", plan.output.empty() ? nlohmann::json(nullptr) : nlohmann::json(plan.output)},
                                        {"output_type", plan.output_type},
                                        {"pool", plan.pool.empty() ? nlohmann::json(nullptr) : nlohmann::json(plan.pool)},
                                        {"through", plan.through},
                                        {"removed_nodes", plan.removed},
                                        {"split_weights", plan.split_weights}});
    table += fmt::format("{:<22} {:<8} {:<28} {:<12} {}\n", plan.layer, plan.type,
                         plan.input_type + " " + plan.input + (plan.quantizes_input ? " (fused)" : ""), plan.relu.empty() ? "-" : plan.relu,
                         output + (via.empty() ? "" : via + ")"));
  }
  const auto split = std::count_if(plans.begin(), plans.end(), [](const Int8LayerPlan& p) { return p.split_weights; });
  if (split > 0)
    table += fmt::format("{} of {} layers run their weight as two halves (twice the multiply-adds): without VNNI, "
                         "8-bit weight codes beyond +-64 could saturate oneDNN's int16 pair sums; "
                         "--quantize int8:reduce_range=on stores 7-bit weights that run in one pass\n",
                         split, plans.size());
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
  report["table"] = summary.to_table() + entropy_table(model, report) + kernel_table(model, report) +
                    int8_table(model, report);
  return report;
}

}  // namespace shrink
