// shrink compress: runs compression passes (flags or a JSON recipe) and saves the result.
#include "command.hpp"
#include "report_lines.hpp"

#include "shrink/core/error.hpp"
#include "shrink/core/method_spec.hpp"
#include "shrink/jobs/jobs.hpp"

#include <spdlog/fmt/fmt.h>

#include <cmath>
#include <cstdio>
#include <memory>

namespace shrink::cli {
namespace {

struct CompressFlags {
  CommonOptions common;
  CompressJob job;
  std::vector<std::string> prune;
  std::string scope;                 // empty: the pass's default
  std::vector<std::string> exclude;  // layers every pruning pass leaves dense
  std::string criterion;
  std::vector<int64_t> latency_batches = {1, 256};
  bool no_latency = false;
  std::string recipe_path;
  int finetune_epochs = 0;
  std::vector<std::string> sparsity_reg;
  std::vector<std::string> recover;
  QuantizeFlags quantize;
};

// "--prune obd:0.9,samples=512" -> prune.obd with sparsity 0.9 and samples 512; "--prune
// channels:0.5" -> prune.channels with ratio 0.5 and --criterion's criterion; plus the --scope
// and --exclude flags.
nlohmann::json parse_prune(const std::string& text, const CompressFlags& flags) {
  nlohmann::json pass = pruning_pass("--prune", text);
  if (!pass.contains("scope") && !flags.scope.empty()) pass["scope"] = flags.scope;
  if (!flags.exclude.empty() && !pass.contains("exclude")) pass["exclude"] = flags.exclude;
  if (pass["pass"] == "prune.channels" && !flags.criterion.empty() && !pass.contains("criterion"))
    pass["criterion"] = flags.criterion;
  return pass;
}

// One line per quantized weight: format, bits per code and per weight, stored bytes against fp32, relative error.
void print_quantized_layers(const nlohmann::json& layers) {
  bool header = false;
  for (const auto& layer : layers) {
    if (layer["format"] == "fp32") continue;
    if (!header) {
      std::printf("%-22s %-8s %4s %6s %12s %12s %12s %12s\n", "weight", "format", "bits", "bits/w", "bytes",
                  "entropy", "fp32 bytes", "rel. MSE");
      header = true;
    }
    const std::string mse =
        layer.contains("relative_mse") ? fmt::format("{:.3g}", layer["relative_mse"].get<double>()) : "-";
    // entropy: the bytes an ideal order-0 coder would spend on the codes and sparse positions.
    const std::string entropy =
        layer.contains("entropy_bytes") ? fmt::format("{:.0f}", layer["entropy_bytes"].get<double>()) : "-";
    // bits: of one code; bits/w: per weight (product quantization's code stands for d weights).
    const double per_weight = layer.value("bits_per_weight", layer["bits"].get<double>());
    const std::string bits_per_weight =
        per_weight == std::floor(per_weight) ? fmt::format("{:.0f}", per_weight) : fmt::format("{:.2f}", per_weight);
    std::printf("%-22s %-8s %4d %6s %12s %12s %12lld %12s\n", layer["name"].get<std::string>().c_str(),
                layer["format"].get<std::string>().c_str(), layer["bits"].get<int>(), bits_per_weight.c_str(),
                layer.contains("bytes") ? std::to_string(layer["bytes"].get<long long>()).c_str() : "-",
                entropy.c_str(), layer["fp32_bytes"].get<long long>(), mse.c_str());
  }
}

// quant.int8's quantized activations, worst first: the SQNR of each layer's quantized input
// and of its output against the fp32 model on the calibration data.
void print_int8_activations(const nlohmann::json& passes) {
  for (const auto& section : passes) {
    if (section["pass"] != "quant.int8") continue;
    std::printf("int8 activations (calibration %s on %lld samples; SQNR vs fp32, worst first):\n",
                section["calibration"].get<std::string>().c_str(),
                section["calibration_samples"].get<long long>());
    std::printf("%-22s %-6s %12s %5s %23s %10s %11s\n", "layer", "type", "scale", "zero",
                "range", "input dB", "output dB");
    const auto db = [](const nlohmann::json& v) {
      return v.is_null() ? std::string("exact") : fmt::format("{:.1f}", v.get<double>());
    };
    for (const auto& a : section["activations"])
      std::printf("%-22s %-6s %12.6g %5d %23s %10s %11s\n", a["layer"].get<std::string>().c_str(),
                  a["type"].get<std::string>().c_str(), a["scale"].get<double>(),
                  a["zero_point"].get<int>(),
                  fmt::format("[{:.4g}, {:.4g}]", a["range"][0].get<double>(), a["range"][1].get<double>()).c_str(),
                  db(a["input_sqnr_db"]).c_str(), db(a["output_sqnr_db"]).c_str());
    if (!section["folded_batch_norms"].empty())
      std::printf("folded into the layer before: %s\n", section["folded_batch_norms"].dump().c_str());
    // Said aloud: "auto" picks 7 bits on a CPU without VNNI, which a user may not expect.
    if (section.value("lsq", false))
      std::printf("steps: learned (LSQ) while fine-tuning, from these calibrated scales; without "
                  "--finetune-epochs they stay as calibrated\n");
    if (section.value("reduce_range", false))
      std::printf("weights: 7-bit (reduce_range: codes -63..63, one pass on int8 kernels without "
                  "VNNI; --quantize int8:reduce_range=off keeps 8 bits)\n");
  }
}

// The size and accuracy after each pass, as Deep Compression's table: pruning alone, then
// quantization (without and with Huffman coding).
void print_stages(const nlohmann::json& stages) {
  if (stages.size() < 2) return;
  std::printf("%-18s %9s %9s %11s %9s %18s\n", "stage", "accuracy", "sparsity", "bytes", "ratio",
              "without Huffman");
  const double original = stages[0].value("bytes", 0.0);
  for (const auto& stage : stages) {
    const std::string accuracy =
        stage.contains("accuracy") ? fmt::format("{:.2f}%", 100.0 * stage["accuracy"].get<double>()) : "-";
    std::string bytes = "-", ratio = "-", without = "-";
    if (stage.contains("bytes")) {
      bytes = std::to_string(stage["bytes"].get<long long>());
      ratio = fmt::format("{:.1f}x", original / stage["bytes"].get<double>());
    }
    if (stage.contains("bytes_without_entropy_coding") &&
        stage["bytes_without_entropy_coding"] != stage["bytes"])
      without = fmt::format("{} ({:.1f}x)", stage["bytes_without_entropy_coding"].get<long long>(),
                            original / stage["bytes_without_entropy_coding"].get<double>());
    std::printf("%-18s %9s %8.1f%% %11s %9s %18s\n", stage["stage"].get<std::string>().c_str(),
                accuracy.c_str(), 100.0 * stage["sparsity"].get<double>(), bytes.c_str(), ratio.c_str(),
                without.c_str());
  }
}

void run(CompressFlags& flags) {
  apply_common_options(flags.common);
  CompressJob& job = flags.job;
  job.finetune.seed = flags.common.seed;
  job.terms = sparsity_reg_terms(flags.sparsity_reg);
  nlohmann::json recipe = {{"passes", nlohmann::json::array()}};
  const nlohmann::json quantize = quantize_pass(flags.quantize);
  if (!flags.recipe_path.empty()) {
    require(flags.prune.empty() && flags.finetune_epochs == 0 && flags.scope.empty() &&
                flags.exclude.empty() && flags.recover.empty() && quantize.is_null(),
            "give either --recipe or --prune/--scope/--exclude/--quantize/--finetune-epochs/"
            "--recover, not both");
    job.recipe = Recipe::from_file(flags.recipe_path);
  } else {
    bool channels = false;
    nlohmann::json schedules = nlohmann::json::array();
    for (const auto& spec : flags.prune) {
      if (is_pruning_schedule(spec)) {
        // A schedule prunes while the model fine-tunes, as a term of every fine-tuning pass.
        nlohmann::json term = pruning_schedule("--prune", spec);
        if (!term.contains("scope") && !flags.scope.empty()) term["scope"] = flags.scope;
        if (!flags.exclude.empty() && !term.contains("exclude")) term["exclude"] = flags.exclude;
        schedules.push_back(term);
        continue;
      }
      recipe["passes"].push_back(parse_prune(spec, flags));
      channels |= recipe["passes"].back()["pass"] == "prune.channels";
    }
    require(flags.criterion.empty() || channels,
            "--criterion " + flags.criterion + " chooses which channels --prune channels:RATIO "
            "removes; add --prune channels:RATIO or drop --criterion");
    require(schedules.empty() || flags.finetune_epochs > 0 || !flags.recover.empty(),
            "--prune agp:S prunes gradually while fine-tuning; add --finetune-epochs N");
    for (const auto& term : make_training_terms(schedules)) job.terms.push_back(term);
    // Pruned, then quantized: the quantizer sees the pruned weights and keeps their zeros.
    // INQ (pow2) retrains between its portions and leaves nothing to fine-tune after.
    const bool inq = !quantize.is_null() && quantize["pass"] == "quant.pow2" &&
                     quantize.value("incremental", true);
    if (!quantize.is_null()) {
      recipe["passes"].push_back(quantize);
      if (inq) recipe["passes"].back()["epochs"] = flags.finetune_epochs;
    }
    if (!flags.recover.empty()) {
      // Fine-tuning by distillation from the model before compression.
      nlohmann::json losses = nlohmann::json::array();
      for (const auto& text : flags.recover) losses.push_back(distillation_loss("--recover", text));
      recipe["passes"].push_back({{"pass", "distill.recover"},
                                  {"epochs", flags.finetune_epochs > 0 ? flags.finetune_epochs : 1},
                                  {"terms", losses}});
    } else if (flags.finetune_epochs > 0 && !inq) {
      recipe["passes"].push_back({{"pass", "train.finetune"}, {"epochs", flags.finetune_epochs}});
    }
    job.recipe = Recipe::from_json(recipe);
  }

  job.latency_batches = flags.no_latency ? std::vector<int64_t>{} : flags.latency_batches;

  ProgressBar bar("compress", progress_enabled(flags.common));
  JobObserver observer;
  observer.progress = [&](int64_t done, int64_t total, const std::string&) { bar.update(done, total); };
  const nlohmann::json report = run_compress_job(job, observer);
  bar.update(0, 0);
  write_report(flags.common, report);
  if (report.contains("accuracy_before"))
    std::printf("accuracy %.2f%% -> %.2f%% (%+.2f points)\n",
                100.0 * report["accuracy_before"].get<double>(),
                100.0 * report["accuracy_after"].get<double>(),
                100.0 * report["accuracy_change"].get<double>());
  print_stages(report["stages"]);
  print_quantized_layers(report["layers"]);
  print_int8_activations(report["passes"]);
  if (report["shapes_changed"].get<bool>())
    std::printf("\n%s\n", report["layer_changes_table"].get<std::string>().c_str());
  for (const auto& l : report["latency"])
    std::printf("batch %lld: %.3f ms -> %.3f ms per batch (%.2fx faster, medians of %d)\n",
                l["batch"].get<long long>(), l["before"]["median_ms"].get<double>(),
                l["after"]["median_ms"].get<double>(), l["speedup"].get<double>(),
                l["after"]["repeats"].get<int>());
  const int64_t before = report["file_bytes_before"].get<int64_t>();
  const int64_t after = report["file_bytes_after"].get<int64_t>();
  std::printf("file %lld -> %lld bytes (%s), weight sparsity %.1f%%\nsaved %s\n",
              static_cast<long long>(before), static_cast<long long>(after),
              size_change(before, after).c_str(), 100.0 * report["sparsity"].get<double>(),
              job.output.c_str());
  print_class_impact(report, flags.common.quiet);
  print_energy(report);
}

}  // namespace

// One line per pruning method of --prune (and train's --prune-at-init): the pass it runs and
// the option its VALUE sets.
struct PruneMethod {
  const char* method;
  const char* pass;
  const char* value_option;
};
const PruneMethod kPruneMethods[] = {
    {"magnitude", "prune.magnitude", "sparsity"},
    {"snip", "prune.snip", "sparsity"},
    {"obd", "prune.obd", "sparsity"},
    {"fisher", "prune.fisher", "sparsity"},
    {"taylor", "prune.taylor", "sparsity"},
    {"obs", "prune.obs", "sparsity"},
    {"channels", "prune.channels", "ratio"},
};

nlohmann::json pruning_pass(const std::string& flag, const std::string& text) {
  const MethodSpec spec = parse_method_spec(flag, text);
  const PruneMethod* found = nullptr;
  std::string known;
  for (const PruneMethod& m : kPruneMethods) {
    if (spec.method == m.method) found = &m;
    known += (known.empty() ? "" : ", ") + std::string(m.method);
  }
  require(found != nullptr, flag + " " + text + ": unknown method '" + spec.method +
                                "' (known: " + known + "); write it as METHOD:SPARSITY");
  require(spec.value.is_number(), flag + " " + text + ": give the " + found->value_option +
                                  " as a number in [0, 1), e.g. " + spec.method + ":0.5");
  nlohmann::json pass = spec.options;
  pass["pass"] = found->pass;
  pass[found->value_option] = spec.value;
  return pass;
}

void register_compress(CLI::App& app) {
  auto flags = std::make_shared<CompressFlags>();
  CLI::App* cmd = app.add_subcommand("compress", "Compress a model: prune, quantize, fine-tune, and save it");
  TrainConfig& f = flags->job.finetune;
  f.lr = 0.001f;
  f.momentum = 0.9f;
  cmd->add_option("model", flags->job.model, "Model file (.shrk or .onnx)")->required();
  cmd->add_option("-o,--output", flags->job.output, "Where to save the compressed model")->required();
  cmd->add_option("--prune", flags->prune, "Pruning: METHOD:SPARSITY[,KEY=VALUE...] with METHOD magnitude, snip, obd, fisher, "
                  "taylor or obs (e.g. obd:0.9,samples=512), or channels:RATIO (whole channels, "
                  "physically removed, e.g. channels:0.5), or agp:SPARSITY[,start=,end=,frequency=] "
                  "(gradually while fine-tuning); see docs/passes.md");
  cmd->add_option("--scope", flags->scope,
                  "Pruning: one global ranking of all weights or channels (the default), or each "
                  "layer to the same sparsity or ratio")
      ->check(CLI::IsMember({"global", "layer"}));
  cmd->add_option("--exclude", flags->exclude,
                  "Layers pruning leaves dense, by node or parameter name (e.g. --exclude fc3)");
  cmd->add_option("--criterion", flags->criterion,
                  "Channel importance for --prune channels: l1, l2, fpgm, bn, apoz, taylor (default l1)");
  cmd->add_option("--finetune-epochs", flags->finetune_epochs, "Fine-tune this many epochs after compressing")
      ->check(number_in(0, 100000));
  cmd->add_option("--finetune-lr", f.lr, "Fine-tuning learning rate")->check(positive_number())->capture_default_str();
  cmd->add_option("--batch", f.batch_size, "Fine-tuning batch size")->check(number_in(1, 1 << 20))->capture_default_str();
  add_sparsity_reg_option(*cmd, flags->sparsity_reg);
  cmd->add_option("--recover", flags->recover,
                  "Fine-tune by distillation from the model before compression, with this loss "
                  "(kd, or kd:T=4,alpha=0.9; repeatable), for --finetune-epochs (default 1)");
  add_quantize_options(*cmd, flags->quantize);
  cmd->add_option("--latency-batches", flags->latency_batches,
                  "Batch sizes at which to time the model before and after")
      ->check(number_in(int64_t{1}, int64_t{1} << 20))->capture_default_str();
  cmd->add_flag("--no-latency", flags->no_latency, "Do not time the model before and after");
  cmd->add_option("--recipe", flags->recipe_path, "A JSON recipe: {\"passes\": [{\"pass\": ..., options}]}");
  cmd->add_option("--data", flags->job.data, "Dataset for fine-tuning (train split) and accuracy (test split)")
      ->capture_default_str();
  cmd->add_option("--changed-samples", flags->job.changed_samples_svg,
                  "Draw the test samples whose prediction the compression changed into FILE.svg");
  add_common_options(*cmd, flags->common);
  cmd->callback([flags] { run(*flags); });
}

}  // namespace shrink::cli
