// The shrink command line: dispatches to one subcommand and turns every failure into one
// "error: ..." line — exit 2 for bad input, 1 for an internal failure.
#include "arguments.hpp"
#include "command.hpp"

#include "shrink/core/error.hpp"
#include "shrink/version.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>
#include <string>
#include <vector>

namespace {

// One line per subcommand.
const std::pair<const char*, void (*)(CLI::App&)> kCommands[] = {
    {"train", shrink::cli::register_train},
    {"eval", shrink::cli::register_eval},
    {"inspect", shrink::cli::register_inspect},
    {"compress", shrink::cli::register_compress},
    {"convert", shrink::cli::register_convert},
    {"run", shrink::cli::register_run},
    {"distill", shrink::cli::register_distill},
    {"sweep", shrink::cli::register_sweep},
    {"plot", shrink::cli::register_plot},
    {"report", shrink::cli::register_report},
    {"exemplars", shrink::cli::register_exemplars},
    {"sensitivity", shrink::cli::register_sensitivity},
};

int fail(const char* message, int code) {
  std::fprintf(stderr, "error: %s\n", message);
  return code;
}

// libgomp's idle threads spin (300,000 rounds by default) at every barrier before they sleep.
// On cores shared with other jobs the spinning thread takes the time its sibling needs: on two
// busy cores (load ~11) training ran 3.9x and batch-256 inference 1.9x slower than with passive
// waiting (docs/benchmarks.md, bench/omp_wait_policy.sh). libgomp reads the policy once, as it
// loads, before main — so the CLI sets it and runs itself again. A policy or spin count given in
// the environment (OMP_WAIT_POLICY=active on a dedicated machine) is kept.
void wait_passively(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;
  if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
  execv("/proc/self/exe", argv);
  // No /proc: carry on with libgomp's default; only child processes see the variable.
}

}  // namespace

int main(int argc, char** argv) {
  wait_passively(argv);
  CLI::App app{"shrink: make trained neural networks smaller, faster and cheaper to run"};
  app.name("shrink");
  app.set_version_flag("--version", std::string("shrink ") + shrink::kVersion);
  app.require_subcommand(1);
  app.fallthrough(false);
  for (const auto& [name, add] : kCommands) add(app);
  const std::vector<std::string> args =
      shrink::cli::move_common_flags_after_command(app, std::vector<std::string>(argv + 1, argv + argc));
  try {
    // CLI11 would call a misspelt command "a subcommand is required"; name it instead.
    if (!args.empty() && args.front()[0] != '-' &&
        std::none_of(std::begin(kCommands), std::end(kCommands),
                     [&](const auto& command) { return args.front() == command.first; }))
      return fail(shrink::cli::explain_unexpected_arguments(app, args).c_str(), 2);
    app.parse(std::vector<std::string>(args.rbegin(), args.rend()));  // CLI11 takes them reversed
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    const std::string better = shrink::cli::explain_unexpected_arguments(app, args);
    return fail(better.empty() ? e.what() : better.c_str(), 2);
  } catch (const shrink::Error& e) {
    return fail(e.what(), e.kind() == shrink::Error::Kind::BadInput ? 2 : 1);
  } catch (const std::bad_alloc&) {
    return fail("out of memory", 1);
  } catch (const std::exception& e) {
    return fail((std::string("internal failure: ") + e.what()).c_str(), 1);
  }
  return 0;
}
