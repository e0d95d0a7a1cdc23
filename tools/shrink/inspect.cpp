// shrink inspect: the per-layer table of a model file.
#include "command.hpp"

#include "shrink/core/json_numbers.hpp"
#include "shrink/jobs/jobs.hpp"

#include <cstdio>
#include <memory>

namespace shrink::cli {
namespace {

struct InspectFlags {
  CommonOptions common;
  InspectJob job;
  bool json = false;
};

void run(InspectFlags& flags) {
  apply_common_options(flags.common);
  nlohmann::json report = run_inspect_job(flags.job);
  write_report(flags.common, report);
  const std::string table = report["table"].get<std::string>();
  report.erase("table");
  if (flags.json) {
    std::printf("%s\n", with_short_floats(report).dump(2).c_str());
    return;
  }
  std::string inputs;
  for (const auto& input : report["inputs"])
    inputs += (inputs.empty() ? "" : ", ") + input["name"].get<std::string>() + " " +
              input["shape"].dump();
  std::printf("%s  input%s %s\n\n%s", flags.job.model.c_str(),
              report["inputs"].size() > 1 ? "s" : "", inputs.c_str(), table.c_str());
}

}  // namespace

void register_inspect(CLI::App& app) {
  auto flags = std::make_shared<InspectFlags>();
  CLI::App* cmd = app.add_subcommand("inspect", "Show a model's layers, sizes, sparsity and MACs");
  cmd->add_option("model", flags->job.model, "Model file (.shrk or .onnx)")->required();
  cmd->add_flag("--json", flags->json, "Print the report as JSON");
  add_common_options(*cmd, flags->common);
  cmd->callback([flags] { run(*flags); });
}

}  // namespace shrink::cli
