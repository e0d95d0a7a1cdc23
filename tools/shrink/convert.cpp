// shrink convert: between .onnx and .shrk, recording the training normalization on the way.
#include "command.hpp"

#include "shrink/core/error.hpp"
#include "shrink/jobs/convert_job.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>

namespace shrink::cli {
namespace {

struct ConvertFlags {
  CommonOptions common;
  ConvertJob job;
  std::string scale;
};

// A whole string that reads as a finite number.
// "--scale 1/255" as the docs write it, or a plain number; positive and finite.
float parse_scale(const std::string& text) {
  const size_t slash = text.find('/');
  double value = 0, numerator = 0, denominator = 0;
  const bool read =
      slash == std::string::npos
          ? read_number(text, value)
          : read_number(text.substr(0, slash), numerator) &&
                read_number(text.substr(slash + 1), denominator) && denominator != 0 &&
                std::isfinite(value = numerator / denominator);
  require(read && value > 0 && value <= 3.4e38,
          "--scale: must be a positive number or a fraction such as 1/255, got " + text);
  return static_cast<float>(value);
}

void run(ConvertFlags& flags, bool scale_given) {
  apply_common_options(flags.common);
  if (scale_given) flags.job.scale = parse_scale(flags.scale);
  const nlohmann::json report = run_convert_job(flags.job);
  write_report(flags.common, report);
  if (flags.common.quiet) return;
  std::printf("%s -> %s  (%zu nodes, %lld parameters, %lld bytes)\n", flags.job.input.c_str(),
              flags.job.output.c_str(), report["nodes"].get<size_t>(),
              report["parameters"].get<long long>(), report["file_bytes"].get<long long>());
  if (!report["normalization"].is_null())
    std::printf("normalization %s\n", report["normalization"].dump().c_str());
}

}  // namespace

void register_convert(CLI::App& app) {
  auto flags = std::make_shared<ConvertFlags>();
  CLI::App* cmd = app.add_subcommand("convert", "Convert a model between .onnx and .shrk");
  cmd->add_option("input", flags->job.input, "Model to read (.onnx or .shrk)")->required();
  cmd->add_option("output", flags->job.output, "Model to write (.onnx or .shrk)")->required();
  cmd->add_option("--mean", flags->job.mean,
                  "Per-channel mean the model was trained with, on [0, 1] pixels (one value or one per channel)")
      ->delimiter(',');
  cmd->add_option("--std", flags->job.std, "Per-channel standard deviation, like --mean")
      ->delimiter(',');
  CLI::Option* scale = cmd->add_option(
      "--scale", flags->scale,
      "Factor from stored values to the model's range: a number or a fraction (1/255 for pixels)");
  cmd->add_flag("--masks-from-zeros", flags->job.masks_from_zeros,
                "Mask the exact zeros of mostly-zero weights (a pruned model read from ONNX), so "
                "fine-tuning keeps them pruned");
  add_common_options(*cmd, flags->common);
  cmd->callback([flags, scale] { run(*flags, scale->count() > 0); });
}

}  // namespace shrink::cli
