#include "command.hpp"

#include "shrink/compress/pass.hpp"
#include "shrink/core/error.hpp"
#include "shrink/core/file.hpp"
#include "shrink/core/json_numbers.hpp"
#include "shrink/core/method_spec.hpp"
#include "shrink/core/threading.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <cstdlib>

namespace shrink::cli {
namespace {

// The standard output the JSON report goes to with "--report -"; -1 otherwise.
int report_descriptor = -1;

CLI::Validator number_check(std::string description, std::function<bool(double)> accept,
                            std::string requirement) {
  return CLI::Validator(
      [accept = std::move(accept), requirement = std::move(requirement)](std::string& text) {
        double value = 0;
        if (read_number(text, value) && accept(value)) return std::string();
        return "must be " + requirement + ", got " + text;
      },
      std::move(description));
}

}  // namespace

bool read_number(const std::string& text, double& value) {
  char* end = nullptr;
  value = std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size() && std::isfinite(value);
}

CLI::Validator positive_number() {
  return number_check("POSITIVE", [](double v) { return v > 0; }, "a positive number");
}

CLI::Validator non_negative_number() {
  return number_check("NONNEGATIVE", [](double v) { return v >= 0; }, "a number >= 0");
}

CLI::Validator number_in(double low, double high) {
  const std::string range = "[" + message_number(low) + ", " + message_number(high) + "]";
  return number_check(
      "in " + range, [=](double v) { return v >= low && v <= high; }, "a number in " + range);
}

std::string size_change(int64_t bytes_before, int64_t bytes_after) {
  if (bytes_before == bytes_after || bytes_before <= 0 || bytes_after <= 0) return "the same size";
  const bool smaller = bytes_after < bytes_before;
  const double ratio = smaller ? static_cast<double>(bytes_before) / bytes_after
                               : static_cast<double>(bytes_after) / bytes_before;
  char text[64];
  // Below 1.1x a ratio would read "1.00x"; a percentage says how much.
  if (ratio < 1.1)
    std::snprintf(text, sizeof text, "%.1f%% %s", 100.0 * (1.0 - 1.0 / ratio),
                  smaller ? "smaller" : "larger");
  else
    std::snprintf(text, sizeof text, "%.2fx %s", ratio, smaller ? "smaller" : "larger");
  return text;
}

void add_common_options(CLI::App& command, CommonOptions& options) {
  command.add_option("--threads", options.threads, "Worker threads (0 = all cores)")
      ->check(number_in(0, 1024));
  command.add_option("--seed", options.seed, "Random seed (same seed + threads = same bytes)");
  command.add_flag("-v,--verbose", options.verbose, "Log more detail");
  command.add_flag("-q,--quiet", options.quiet, "Log only warnings and errors");
  command.add_option("--report", options.report_path,
                     "Also write the report as JSON to FILE (- for standard output)");
}

void apply_common_options(const CommonOptions& options) {
  // Checked before any work, so a typo in the path does not cost a training run.
  if (options.report_path == "-") {
    // The report alone on standard output; what the command prints goes to standard error.
    std::fflush(stdout);
    report_descriptor = ::dup(STDOUT_FILENO);
    ::dup2(STDERR_FILENO, STDOUT_FILENO);
  } else if (!options.report_path.empty()) {
    check_writable(options.report_path, "report");
  }
  set_num_threads(options.threads);
  auto logger = spdlog::stderr_color_mt("shrink");
  logger->set_pattern("%^%l%$: %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(options.quiet ? spdlog::level::warn
                    : options.verbose ? spdlog::level::debug
                                      : spdlog::level::info);
}

void write_report(const CommonOptions& options, const nlohmann::json& report) {
  if (options.report_path.empty()) return;
  const std::string text = with_short_floats(report).dump(2) + "\n";
  if (report_descriptor >= 0) {
    std::fflush(stdout);
    for (size_t written = 0; written < text.size();) {
      const ssize_t put = ::write(report_descriptor, text.data() + written, text.size() - written);
      if (put < 0 && errno == EINTR) continue;
      if (put < 0) throw Error::bad_input("cannot write the report to standard output: " +
                                          std::string(std::strerror(errno)));
      written += static_cast<size_t>(put);
    }
    return;
  }
  write_file_atomic(options.report_path, text);
  spdlog::debug("report written to {}", options.report_path);
}

void add_sparsity_reg_option(CLI::App& command, std::vector<std::string>& specs) {
  command.add_option("--sparsity-reg", specs,
                     "Sparsity regulariser while training: bn:STRENGTH, the L1 penalty on "
                     "BatchNorm scales of Network Slimming (e.g. bn:1e-4)");
}

TrainingTerms sparsity_reg_terms(const std::vector<std::string>& specs) {
  TrainingTerms terms;
  for (const std::string& text : specs) {
    const MethodSpec spec = parse_method_spec("--sparsity-reg", text);
    require(spec.method == "bn", "--sparsity-reg " + text + ": unknown regulariser '" +
                                     spec.method + "' (known: bn); write it as bn:STRENGTH");
    nlohmann::json options = spec.options;
    if (!spec.value.is_null()) options["strength"] = spec.value;
    terms.push_back(make_training_term("bn_l1", options));
  }
  return terms;
}

bool is_pruning_schedule(const std::string& text) {
  return text == "agp" || text.rfind("agp:", 0) == 0;
}

namespace {

// "METHOD:SPARSITY[,KEY=VALUE...]" -> {"term": METHOD, "sparsity": SPARSITY, KEY: VALUE...}, for
// the training terms that prune; `known` lists the methods the flag takes.
nlohmann::json sparsity_term(const std::string& flag, const std::string& text,
                             const std::vector<std::string>& known) {
  const MethodSpec spec = parse_method_spec(flag, text);
  std::string list;
  for (const auto& name : known) list += (list.empty() ? "" : ", ") + name;
  require(std::find(known.begin(), known.end(), spec.method) != known.end(),
          flag + " " + text + ": unknown method '" + spec.method + "' (known: " + list +
              "); write it as METHOD:SPARSITY");
  require(spec.value.is_number(), flag + " " + text + ": give the sparsity as a number in [0, 1), "
                                  "e.g. " + spec.method + ":0.9");
  nlohmann::json term = spec.options;
  // One layer on the command line; a recipe lists several.
  if (term.contains("exclude") && term["exclude"].is_string())
    term["exclude"] = nlohmann::json::array({term["exclude"]});
  term["term"] = spec.method;
  term["sparsity"] = spec.value;
  return term;
}

}  // namespace

nlohmann::json pruning_schedule(const std::string& flag, const std::string& text) {
  return sparsity_term(flag, text, {"agp"});
}

nlohmann::json sparse_training(const std::string& flag, const std::string& text) {
  return sparsity_term(flag, text, {"set", "rigl"});
}

void add_training_options(CLI::App& command, TrainConfig& c) {
  command.add_option("--epochs", c.epochs, "Training epochs")->check(number_in(1, 100000))->capture_default_str();
  command.add_option("--batch", c.batch_size, "Mini-batch size")->check(number_in(1, 1 << 20))->capture_default_str();
  command.add_option("--optimizer", c.optimizer, "sgd, adam or adamw")
      ->check(CLI::IsMember({"sgd", "adam", "adamw"}))->capture_default_str();
  command.add_option("--lr", c.lr, "Learning rate")->check(positive_number())->capture_default_str();
  command.add_option("--momentum", c.momentum, "SGD momentum")->check(number_in(0.0, 1.0))->capture_default_str();
  command.add_flag("--nesterov", c.nesterov, "Nesterov momentum (SGD)");
  command.add_option("--weight-decay", c.weight_decay, "Weight decay")->check(non_negative_number())->capture_default_str();
  command.add_option("--schedule", c.schedule, "Learning-rate schedule: constant, step or cosine")
      ->check(CLI::IsMember({"constant", "step", "cosine"}))->capture_default_str();
  command.add_option("--step-size", c.step_size, "Epochs between decays (--schedule step)")->check(positive_number());
  command.add_option("--gamma", c.gamma, "Decay factor (--schedule step)")->check(number_in(0.0, 1.0));
  command.add_option("--label-smoothing", c.label_smoothing, "Label smoothing in [0, 1)")->check(number_in(0.0, 0.999));
  command.add_option("--validation", c.validation_fraction,
                     "Hold out this fraction of the training set for validation")->check(number_in(0.0, 0.9));
}

nlohmann::json architecture_options(const std::string& json_text, const std::vector<int64_t>& hidden) {
  nlohmann::json options = nlohmann::json::object();
  if (!json_text.empty()) {
    try {
      options = nlohmann::json::parse(json_text);
    } catch (const nlohmann::json::exception& e) {
      throw Error::bad_input("--arch-options is not valid JSON: " + std::string(e.what()));
    }
  }
  if (!hidden.empty()) options["hidden"] = hidden;
  return options;
}

nlohmann::json distillation_loss(const std::string& flag, const std::string& text) {
  const MethodSpec spec = parse_method_spec(flag, text);
  require(spec.value.is_null(), flag + " " + text + ": give the loss's options as KEY=VALUE, e.g. "
                                "kd:T=4,alpha=0.9 (see docs/distillation.md)");
  nlohmann::json term = spec.options;
  term["term"] = spec.method;
  return term;
}

void log_epoch(const EpochStats& s) {
  spdlog::info("epoch {}/{}: loss {:.4f}, train accuracy {:.2f}%{}, {:.0f} samples/s", s.epoch + 1,
               s.epochs, s.train_loss, 100.0 * s.train_accuracy,
               s.has_validation ? fmt::format(", validation accuracy {:.2f}%", 100.0 * s.validation_accuracy) : "",
               s.samples_per_s);
}

bool progress_enabled(const CommonOptions& options) {
  return !options.quiet && isatty(fileno(stderr));
}

ProgressBar::ProgressBar(std::string label, bool enabled)
    : label_(std::move(label)), enabled_(enabled) {}

ProgressBar::~ProgressBar() { clear(); }

void ProgressBar::clear() {
  if (drawn_) std::fputs("\r\033[K", stderr);
  drawn_ = false;
}

void ProgressBar::update(int64_t done, int64_t total, const std::string& suffix) {
  if (!enabled_) return;
  // Finished (or nothing to show): the line is cleared, so the next log line starts clean.
  if (total <= 0 || done >= total) return clear();
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(kWidth * done / total);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  std::fprintf(stderr, "\r\033[K%s [%s] %3d%% %s", label_.c_str(), bar.c_str(),
               static_cast<int>(100 * done / total), suffix.c_str());
  drawn_ = true;
}

}  // namespace shrink::cli
