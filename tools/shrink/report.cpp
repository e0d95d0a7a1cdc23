// shrink report: a self-contained HTML page about a model, compared with its base.
#include "command.hpp"

#include "shrink/jobs/report_job.hpp"

#include <cstdio>
#include <memory>

namespace shrink::cli {
namespace {

struct ReportFlags {
  CommonOptions common;
  ReportJob job;
};

void run(ReportFlags& flags) {
  apply_common_options(flags.common);
  const nlohmann::json report = run_report_job(flags.job);
  write_report(flags.common, report);
  std::printf("wrote %s (%lld bytes): ", flags.job.output.c_str(), report["bytes"].get<long long>());
  bool first = true;
  for (const auto& section : report["sections"]) {
    std::printf("%s%s", first ? "" : ", ", section.get<std::string>().c_str());
    first = false;
  }
  std::printf("\n");
}

}  // namespace

void register_report(CLI::App& app) {
  auto flags = std::make_shared<ReportFlags>();
  CLI::App* cmd = app.add_subcommand("report", "Write a self-contained HTML page about a model (and what "
                                               "compressing it changed)");
  cmd->add_option("model", flags->job.model, "Model (.shrk or .onnx)")->required();
  cmd->add_option("--compare", flags->job.compare, "The base model it was compressed from: before/after, "
                                                   "per-class accuracy change, changed samples");
  cmd->add_option("--data", flags->job.data, "Dataset to evaluate on (as in eval)")->capture_default_str();
  cmd->add_option("--split", flags->job.split, "Split to evaluate on")->capture_default_str();
  cmd->add_option("--results", flags->job.results, "Sweep results files to chart (accuracy against file size)");
  cmd->add_option("--title", flags->job.title, "Page title");
  cmd->add_option("-o,--output", flags->job.output, "HTML file to write")->required();
  add_common_options(*cmd, flags->common);
  cmd->callback([flags] { run(*flags); });
}

}  // namespace shrink::cli
