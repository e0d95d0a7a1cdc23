// shrink exemplars: the test samples on which compressed models (e.g. a sweep's seeds) and
// dense ones disagree by their modal prediction.
#include "command.hpp"

#include "shrink/jobs/exemplars_job.hpp"

#include <cstdio>
#include <memory>

namespace shrink::cli {
namespace {

struct ExemplarsFlags {
  CommonOptions common;
  ExemplarsJob job;
};

void run(ExemplarsFlags& flags) {
  apply_common_options(flags.common);
  const nlohmann::json report = run_exemplars_job(flags.job);
  write_report(flags.common, report);
  std::printf("%lld compression-identified exemplars of %lld samples (%.2f%%), %zu dense and %zu compressed models\n",
              report["exemplars"].get<long long>(), report["samples"].get<long long>(),
              100.0 * report["fraction"].get<double>(), flags.job.dense.size(), flags.job.compressed.size());
  if (report["exemplars"].get<int64_t>() == 0) return;
  std::printf("modal accuracy on them: dense %.2f%%, compressed %.2f%%\nper class:",
              100.0 * report["accuracy_dense"].get<double>(), 100.0 * report["accuracy_compressed"].get<double>());
  for (size_t c = 0; c < report["per_class"].size(); ++c)
    if (report["per_class"][c].get<int64_t>() > 0)
      std::printf(" %s %lld", report["classes"][c].get<std::string>().c_str(), report["per_class"][c].get<long long>());
  std::printf("\n");
  if (report.contains("svg")) std::printf("grid of the first 48: %s\n", report["svg"].get<std::string>().c_str());
}

}  // namespace

void register_exemplars(CLI::App& app) {
  auto flags = std::make_shared<ExemplarsFlags>();
  CLI::App* cmd = app.add_subcommand(
      "exemplars", "Find the samples where compressed models' modal prediction differs from dense models' "
                   "(compression-identified exemplars, Hooker et al. 2019)");
  cmd->add_option("--dense", flags->job.dense, "Dense (reference) models")->required()->expected(1, -1);
  cmd->add_option("--compressed", flags->job.compressed, "Compressed models, e.g. one per seed")
      ->required()
      ->expected(1, -1);
  cmd->add_option("--data", flags->job.data, "Dataset (as in eval)")->capture_default_str();
  cmd->add_option("--split", flags->job.split, "Split")->capture_default_str();
  cmd->add_option("--svg", flags->job.svg, "Draw the first 48 exemplars with both modal predictions here");
  add_common_options(*cmd, flags->common);
  cmd->callback([flags] { run(*flags); });
}

}  // namespace shrink::cli
