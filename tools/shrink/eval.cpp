// shrink eval: accuracy, loss and throughput of a model on a dataset split.
#include "command.hpp"
#include "report_lines.hpp"

#include "shrink/jobs/jobs.hpp"

#include <cstdio>
#include <memory>

namespace shrink::cli {
namespace {

struct EvalFlags {
  CommonOptions common;
  EvalJob job;
};

void run(EvalFlags& flags) {
  apply_common_options(flags.common);
  const nlohmann::json report = run_eval_job(flags.job);
  write_report(flags.common, report);
  std::printf("accuracy %.2f%%  top-5 %.2f%%  loss %.4f  (%lld samples, %.0f samples/s)\n",
              100.0 * report["accuracy"].get<double>(), 100.0 * report["top5_accuracy"].get<double>(),
              report["loss"].get<double>(), report["samples"].get<long long>(),
              report["samples_per_s"].get<double>());
  if (report.contains("compare"))
    std::printf("against %s: accuracy %.2f%% (%+.2f points)\n",
                report["compare"]["model"].get<std::string>().c_str(),
                100.0 * report["compare"]["accuracy"].get<double>(),
                100.0 * report["compare"]["accuracy_change"].get<double>());
  if (report.value("int8_layers", 0) > 0 && !flags.common.quiet)
    std::printf("int8: %d layers on oneDNN's %s kernels (SHRINK_INT8=off runs the QDQ graph in fp32)\n",
                report["int8_layers"].get<int>(), report["int8_kernels"].get<std::string>().c_str());
  print_energy(report);
  if (report.contains("class_impact")) {
    print_class_impact(report, flags.common.quiet);
    return;
  }
  if (flags.common.quiet) return;
  const auto& per_class = report["per_class_accuracy"];
  const auto& classes = report["classes"];
  for (size_t k = 0; k < per_class.size(); ++k)
    std::printf("  %-14s %6.2f%%\n",
                k < classes.size() ? classes[k].get<std::string>().c_str() : std::to_string(k).c_str(),
                100.0 * per_class[k].get<double>());
}

}  // namespace

void register_eval(CLI::App& app) {
  auto flags = std::make_shared<EvalFlags>();
  CLI::App* cmd = app.add_subcommand("eval", "Measure a model's accuracy, loss and speed");
  cmd->add_option("model", flags->job.model, "Model file (.shrk or .onnx)")->required();
  cmd->add_option("--data", flags->job.data, "Dataset spec (see shrink train --help)")->capture_default_str();
  cmd->add_option("--split", flags->job.split, "train or test")
      ->check(CLI::IsMember({"train", "test"}))->capture_default_str();
  cmd->add_option("--batch", flags->job.batch_size, "Batch size")->check(number_in(1, 1 << 20))->capture_default_str();
  cmd->add_option("--compare", flags->job.compare,
                  "A reference model (e.g. the dense original): per-class accuracy of both, the "
                  "classes hurt most and the samples whose prediction changed");
  cmd->add_option("--changed-samples", flags->job.changed_samples_svg,
                  "With --compare: draw the samples whose prediction changed into FILE.svg");
  add_common_options(*cmd, flags->common);
  cmd->callback([flags] { run(*flags); });
}

}  // namespace shrink::cli
