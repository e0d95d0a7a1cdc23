#include "command.hpp"

#include "shrink/compress/pass.hpp"
#include "shrink/core/error.hpp"
#include "shrink/core/file.hpp"
#include "shrink/core/method_spec.hpp"
#include "shrink/core/threading.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>

namespace shrink::cli {

void add_common_options(CLI::App& command, CommonOptions& options) {
  command.add_option("--threads", options.threads, "Worker threads (0 = all cores)")
      ->check(CLI::Range(0, 1024));
  command.add_option("--seed", options.seed, "Random seed (same seed + threads = same bytes)");
  command.add_flag("-v,--verbose", options.verbose, "Log more detail");
  command.add_flag("-q,--quiet", options.quiet, "Log only warnings and errors");
  command.add_option("--report", options.report_path, "Also write the report as JSON to FILE");
}

void apply_common_options(const CommonOptions& options) {
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
  write_file_atomic(options.report_path, report.dump(2) + "\n");
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

bool progress_enabled(const CommonOptions& options) {
  return !options.quiet && isatty(fileno(stderr));
}

ProgressBar::ProgressBar(std::string label, bool enabled)
    : label_(std::move(label)), enabled_(enabled) {}

ProgressBar::~ProgressBar() {
  if (drawn_) std::fputs("\r\033[K", stderr);
}

void ProgressBar::update(int64_t done, int64_t total, const std::string& suffix) {
  if (!enabled_ || total <= 0) return;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(kWidth * done / total);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  std::fprintf(stderr, "\r\033[K%s [%s] %3d%% %s", label_.c_str(), bar.c_str(),
               static_cast<int>(100 * done / total), suffix.c_str());
  drawn_ = true;
}

}  // namespace shrink::cli
