// shrink run: a model on tensors from .npy or .pb files; each output is written in the same
// format, to compare runtimes or debug a conversion.
#include "command.hpp"

#include "shrink/core/tensor.hpp"
#include "shrink/jobs/run_job.hpp"

#include <cstdio>
#include <memory>

namespace shrink::cli {
namespace {

struct RunFlags {
  CommonOptions common;
  RunJob job;
  std::vector<std::string> bindings;
};

void run(RunFlags& flags) {
  apply_common_options(flags.common);
  for (const auto& text : flags.bindings) flags.job.inputs.push_back(parse_input_binding(text));
  const nlohmann::json report = run_run_job(flags.job);
  write_report(flags.common, report);
  if (flags.common.quiet) return;
  for (const auto& out : report["outputs"])
    std::printf("%s %s -> %s\n", out["name"].get<std::string>().c_str(),
                to_string(out["shape"].get<Shape>()).c_str(), out["path"].get<std::string>().c_str());
}

}  // namespace

void register_run(CLI::App& app) {
  auto flags = std::make_shared<RunFlags>();
  CLI::App* cmd = app.add_subcommand("run", "Run a model on input tensors from .npy or .pb files");
  cmd->add_option("model", flags->job.model, "Model file (.onnx or .shrk)")->required();
  cmd->add_option("--input,-i", flags->bindings, "NAME=FILE (or FILE): a .npy or ONNX .pb tensor")
      ->required();
  cmd->add_option("--output-dir,-o", flags->job.output_dir, "Directory for the outputs")
      ->capture_default_str();
  add_common_options(*cmd, flags->common);
  cmd->callback([flags] { run(*flags); });
}

}  // namespace shrink::cli
