// shrink train: trains a built-in or JSON-described architecture and saves it.
#include "command.hpp"
#include "report_lines.hpp"

#include "shrink/jobs/jobs.hpp"
#include "shrink/nn/architectures.hpp"
#include "shrink/core/error.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>

namespace shrink::cli {
namespace {

struct TrainFlags {
  CommonOptions common;
  TrainJob job;
  std::vector<int64_t> hidden;
  std::string architecture_options;
  std::vector<std::string> sparsity_reg;
  std::vector<std::string> prune_at_init;
  std::vector<std::string> prune;  // schedules that prune while training (agp)
  std::string sparse_training;     // set or rigl
  QuantizeFlags quantize;
};

void run(TrainFlags& flags) {
  apply_common_options(flags.common);
  TrainJob& job = flags.job;
  job.config.seed = flags.common.seed;
  job.architecture_options = architecture_options(flags.architecture_options, flags.hidden);
  job.terms = sparsity_reg_terms(flags.sparsity_reg);
  nlohmann::json schedules = nlohmann::json::array();
  for (const auto& spec : flags.prune) {
    require(is_pruning_schedule(spec),
            "--prune " + spec + ": shrink train prunes while training by a schedule, agp:SPARSITY "
            "(gradual magnitude pruning); to prune the initialised network once, use "
            "--prune-at-init " + spec);
    schedules.push_back(pruning_schedule("--prune", spec));
  }
  if (!flags.sparse_training.empty()) {
    require(schedules.empty() && flags.prune_at_init.empty(),
            "--sparse-training chooses the masks itself, from the first step to the last; give it "
            "without --prune and --prune-at-init");
    schedules.push_back(sparse_training("--sparse-training", flags.sparse_training));
  }
  for (const auto& term : make_training_terms(schedules)) job.terms.push_back(term);
  nlohmann::json at_init = {{"passes", nlohmann::json::array()}};
  for (const auto& spec : flags.prune_at_init)
    at_init["passes"].push_back(pruning_pass("--prune-at-init", spec));
  // --quantize: the network trains quantized from its first step (after any pruning at init).
  // pow2 trains straight-through from scratch (INQ's portions need a trained network).
  nlohmann::json quantize = quantize_pass(flags.quantize);
  require(quantize.is_null() || quantize["pass"] != "quant.int8",
          "--quantize int8 calibrates a trained model's activations: train in fp32, then run "
          "shrink compress MODEL --quantize int8 [--finetune-epochs N] for quantization-aware "
          "fine-tuning");
  if (!quantize.is_null() && quantize["pass"] == "quant.pow2") quantize["incremental"] = false;
  if (!quantize.is_null()) at_init["passes"].push_back(quantize);
  job.at_init = Recipe::from_json(at_init);

  ProgressBar bar("train", progress_enabled(flags.common));
  JobObserver observer;
  observer.progress = [&](int64_t done, int64_t total, const std::string&) { bar.update(done, total); };
  observer.epoch = [&](const EpochStats& s) {
    bar.update(0, 0);
    log_epoch(s);
  };
  const nlohmann::json report = run_train_job(job, observer);
  write_report(flags.common, report);
  if (report.contains("accuracy"))
    std::printf("%s accuracy %.2f%% (loss %.4f) on %lld samples\n",
                report.value("test_is_training_data", false) ? "training-data" : "test",
                100.0 * report["accuracy"].get<double>(), report["test"]["loss"].get<double>(),
                report["test"]["samples"].get<long long>());
  if (report.contains("at_init"))
    for (const auto& section : report["at_init"])
      std::printf("pruned at initialisation by %s to %.1f%% weight sparsity\n",
                  section["pass"].get<std::string>().c_str(),
                  100.0 * section["weight_sparsity_after"].get<double>());
  if (!flags.sparse_training.empty())
    std::printf("trained sparse from scratch by %s at %.1f%% weight sparsity\n",
                schedules.back()["term"].get<std::string>().c_str(),
                100.0 * report["sparsity"].get<double>());
  else if (!schedules.empty())
    std::printf("pruned gradually while training to %.1f%% weight sparsity\n",
                100.0 * report["sparsity"].get<double>());
  std::printf("training throughput %.0f samples/s; saved %s (%lld bytes)\n",
              report["train_samples_per_s"].get<double>(), job.output.c_str(),
              report["file_bytes"].get<long long>());
  print_energy(report);
}

}  // namespace

void register_train(CLI::App& app) {
  auto flags = std::make_shared<TrainFlags>();
  std::string arch_help = "Architecture: a .json graph file or one of:";
  for (const auto& a : list_architectures()) arch_help += "\n  " + a.name + ": " + a.description;
  CLI::App* cmd = app.add_subcommand("train", "Train a model from scratch on a dataset");
  TrainConfig& c = flags->job.config;
  c.epochs = 10;
  cmd->add_option("--arch", flags->job.architecture, arch_help)->capture_default_str();
  cmd->add_option("--hidden", flags->hidden, "Hidden layer sizes for --arch mlp");
  cmd->add_option("--arch-options", flags->architecture_options, "Architecture options as JSON");
  cmd->add_option("--data", flags->job.data,
                  "Dataset: fashion-mnist, fashion-mnist:DIR, mnist:DIR or csv:FILE[,label=COL][,header]")
      ->capture_default_str();
  add_training_options(*cmd, c);
  add_sparsity_reg_option(*cmd, flags->sparsity_reg);
  cmd->add_option("--prune-at-init", flags->prune_at_init,
                  "Prune the freshly initialised network, then train it sparse: "
                  "METHOD:SPARSITY[,KEY=VALUE...] (e.g. snip:0.95; see docs/passes.md)");
  cmd->add_option("--prune", flags->prune,
                  "Prune gradually while training: agp:SPARSITY[,start=EPOCH,end=EPOCH,"
                  "frequency=STEPS,initial_sparsity=S,scope=global|layer,exclude=LAYER] "
                  "(Zhu & Gupta's cubic schedule; see docs/passes.md)");
  cmd->add_option("--sparse-training", flags->sparse_training,
                  "Train sparse from the first step, moving the weights every so often: "
                  "set:SPARSITY (regrowth at random) or rigl:SPARSITY (where the gradient is "
                  "largest)[,distribution=erk|er|uniform,alpha=0.3,frequency=STEPS,end=EPOCH,"
                  "init=random|magnitude,seed=N,exclude=LAYER] (see docs/passes.md)");
  add_quantize_options(*cmd, flags->quantize);
  cmd->add_option("-o,--output", flags->job.output, "Where to save the model (.shrk or .onnx)")->required();
  add_common_options(*cmd, flags->common);
  cmd->callback([flags] { run(*flags); });
}

}  // namespace shrink::cli
