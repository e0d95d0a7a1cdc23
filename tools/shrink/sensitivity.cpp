// shrink sensitivity: per-layer pruning sensitivity of a model (each layer pruned alone to each
// sparsity), as a table, a JSON report and an SVG plot, to choose per-layer ratios from.
#include "command.hpp"

#include "shrink/core/error.hpp"
#include "shrink/core/method_spec.hpp"
#include "shrink/jobs/sensitivity_job.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

namespace shrink::cli {
namespace {

struct SensitivityFlags {
  CommonOptions common;
  SensitivityJob job;
  std::string prune = "magnitude";
};

// A sparsity: a number in [0, 1) (1 would leave a layer with no weight).
CLI::Validator sparsity_check() {
  return CLI::Validator(
      [](std::string& text) {
        char* end = nullptr;
        const double value = std::strtod(text.c_str(), &end);
        if (!text.empty() && end == text.c_str() + text.size() && value >= 0.0 && value < 1.0)
          return std::string();
        return "must be a number in [0, 1), got " + text;
      },
      "SPARSITY");
}

void run(SensitivityFlags& flags) {
  apply_common_options(flags.common);
  SensitivityJob& job = flags.job;
  job.seed = flags.common.seed;
  // "--prune obs,samples=512": the criterion and its options, as --prune takes them without a
  // sparsity (the sparsities are --sparsities).
  const MethodSpec spec = parse_method_spec("--prune", flags.prune);
  require(spec.value.is_null(), "--prune " + flags.prune + ": give the criterion without a "
                                "sparsity (e.g. --prune obs,samples=512); --sparsities sets them");
  job.options.criterion = spec.method;
  job.options.criterion_options = spec.options;
  // Each of the layers x sparsities pruning runs would log its pass; the table says it all.
  if (!flags.common.verbose) spdlog::set_level(spdlog::level::warn);
  const nlohmann::json report = run_sensitivity_job(job);
  write_report(flags.common, report);

  std::printf("accuracy %.2f%% on %lld %s samples; each layer pruned alone by %s:\n",
              100.0 * report["accuracy"].get<double>(), report["samples"].get<long long>(),
              job.split.c_str(), report["criterion"].get<std::string>().c_str());
  std::printf("%-24s %10s", "layer", "weights");
  for (const auto& s : report["sparsities"]) std::printf(" %8.0f%%", 100.0 * s.get<double>());
  std::printf("\n");
  for (const auto& layer : report["layers"]) {
    std::printf("%-24s %10lld", layer["weight"].get<std::string>().c_str(),
                layer["size"].get<long long>());
    for (const auto& a : layer["accuracy"]) std::printf(" %8.2f%%", 100.0 * a.get<double>());
    std::printf("\n");
  }
  if (report.contains("svg")) std::printf("plot: %s\n", report["svg"].get<std::string>().c_str());
}

}  // namespace

void register_sensitivity(CLI::App& app) {
  auto flags = std::make_shared<SensitivityFlags>();
  CLI::App* cmd = app.add_subcommand(
      "sensitivity", "Prune each layer alone to each sparsity and measure the accuracy left");
  cmd->add_option("model", flags->job.model, "Model file (.shrk or .onnx)")->required();
  cmd->add_option("--data", flags->job.data, "Dataset spec (see shrink train --help)")->capture_default_str();
  cmd->add_option("--sparsities,--levels", flags->job.options.sparsities,
                  "Sparsities to prune each layer to, in [0, 1) (e.g. 0.5,0.7,0.9)")
      ->delimiter(',')->check(sparsity_check())->capture_default_str();
  cmd->add_option("--prune", flags->prune,
                  "Criterion: magnitude, snip, taylor, fisher, obd or obs[,KEY=VALUE...] "
                  "(the loss-based ones calibrate on the train split)")->capture_default_str();
  cmd->add_option("--split", flags->job.split, "Where accuracy is measured: test or train")
      ->check(CLI::IsMember({"train", "test"}))->capture_default_str();
  cmd->add_option("--samples", flags->job.samples,
                  "Measure on a random subset of this many samples of the split (0: all)")
      ->check(number_in(0, 1e12))->capture_default_str();
  cmd->add_option("--batch", flags->job.options.batch_size, "Evaluation batch size")
      ->check(number_in(1, 1 << 20))->capture_default_str();
  cmd->add_option("--svg", flags->job.svg, "Plot accuracy against sparsity, one curve per layer, into FILE.svg");
  add_common_options(*cmd, flags->common);
  cmd->callback([flags] { run(*flags); });
}

}  // namespace shrink::cli
