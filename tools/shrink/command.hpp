#pragma once
// What every subcommand shares: the common flags, logging set-up, the --report file and the
// progress bar. Each subcommand lives in its own file and only parses flags, calls one library
// job and prints its result.
#include "shrink/train/trainer.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace shrink::cli {

struct CommonOptions {
  int threads = 0;  // 0 = every core
  uint64_t seed = 0;
  bool verbose = false;
  bool quiet = false;
  std::string report_path;
};

// Adds --threads, --seed, -v/--verbose, -q/--quiet and --report to a subcommand.
void add_common_options(CLI::App& command, CommonOptions& options);
// Applies --threads and the log level; call first in every subcommand's callback.
void apply_common_options(const CommonOptions& options);
// Writes the JSON report to --report (atomically) when it was given; "--report -" writes it to
// standard output, where it is then the only thing (apply_common_options sends what the command
// would print there to standard error). Floats are written as the shortest decimal that reads
// back as the same float ("lr": 0.01, not 0.009999999776482582).
void write_report(const CommonOptions& options, const nlohmann::json& report);

// Validators whose messages read as one short sentence ("--lr: must be a positive number, got
// -1"). CLI11's PositiveNumber would print its range, 1.8e308 written out in 309 digits.
CLI::Validator positive_number();
CLI::Validator non_negative_number();
CLI::Validator number_in(double low, double high);

// "3.21x smaller", "0.4% larger", "the same size": how a file's size changed.
std::string size_change(int64_t bytes_before, int64_t bytes_after);

// A one-line progress bar on stderr, shown only when stderr is a terminal and not --quiet.
class ProgressBar {
 public:
  ProgressBar(std::string label, bool enabled);
  ~ProgressBar();
  // Draws done/total; at done >= total (or total <= 0) clears the line instead.
  void update(int64_t done, int64_t total, const std::string& suffix = "");
  void clear();

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
};
bool progress_enabled(const CommonOptions& options);

// --sparsity-reg bn:STRENGTH -> the bn_l1 training term (Network Slimming's L1 penalty on
// BatchNorm scales). Adds the flag to a subcommand, and builds the terms from its values.
void add_sparsity_reg_option(CLI::App& command, std::vector<std::string>& specs);
TrainingTerms sparsity_reg_terms(const std::vector<std::string>& specs);

// "agp:0.95[,initial_sparsity=S,start=EPOCH,end=EPOCH,frequency=STEPS,scope=S,exclude=LAYER]"
// -> the {"term": "agp", ...} JSON of a pruning schedule that acts while the model trains;
// `flag` names the flag in errors. is_pruning_schedule says whether text names one (agp).
bool is_pruning_schedule(const std::string& text);
nlohmann::json pruning_schedule(const std::string& flag, const std::string& text);
// "rigl:0.9[,distribution=erk,alpha=0.3,frequency=100,end=EPOCH,init=random,seed=N,exclude=L]"
// or "set:0.9[,...]" -> the {"term": "rigl"|"set", ...} JSON of sparse training from scratch.
nlohmann::json sparse_training(const std::string& flag, const std::string& text);
// "METHOD:SPARSITY[,KEY=VALUE...]" -> the JSON of the pruning pass METHOD names (the table is in
// compress.cpp); `flag` names the flag in errors.
nlohmann::json pruning_pass(const std::string& flag, const std::string& text);
// The training flags of `shrink train` (--epochs, --batch, --optimizer, --lr, --momentum,
// --nesterov, --weight-decay, --schedule, --step-size, --gamma, --label-smoothing, --validation),
// for every subcommand that trains from scratch.
void add_training_options(CLI::App& command, TrainConfig& config);
// --arch-options JSON text (may be empty) with --hidden sizes (may be empty) merged in.
nlohmann::json architecture_options(const std::string& json_text, const std::vector<int64_t>& hidden);
// "hint:student=conv2,teacher=conv2,weight=100" -> {"term": "hint", "student": "conv2", ...}:
// a distillation loss as --loss (distill) and --recover (compress) take it.
nlohmann::json distillation_loss(const std::string& flag, const std::string& text);
// One log line per training epoch: loss, accuracy, validation accuracy, speed.
void log_epoch(const EpochStats& stats);
// --quantize FORMAT[:BITS,KEY=VALUE...] with --per-channel, --symmetric, --quantize-exclude
// LAYER and --layer-bits LAYER=BITS: one quant.<format> recipe entry (null without --quantize).
struct QuantizeFlags {
  std::string spec;
  bool per_channel = false;
  bool symmetric = false;
  std::vector<std::string> exclude;
  std::vector<std::string> layer_bits;
  // --quantize int8 only
  std::string calibration;
  int64_t calibration_batches = 0;  // 0: the pass's default
  std::vector<std::string> skip;
};
void add_quantize_options(CLI::App& command, QuantizeFlags& flags);
nlohmann::json quantize_pass(const QuantizeFlags& flags);

// Reads a whole finite number ("0.5", "1e-4") from a flag's text; false for anything else.
bool read_number(const std::string& text, double& value);

// Subcommands: each registers itself on the app.
void register_train(CLI::App& app);
void register_eval(CLI::App& app);
void register_inspect(CLI::App& app);
void register_compress(CLI::App& app);
void register_convert(CLI::App& app);
void register_run(CLI::App& app);
void register_distill(CLI::App& app);
void register_sweep(CLI::App& app);
void register_plot(CLI::App& app);
void register_report(CLI::App& app);
void register_exemplars(CLI::App& app);
void register_sensitivity(CLI::App& app);

}  // namespace shrink::cli
