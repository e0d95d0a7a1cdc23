// shrink sweep: runs every point of a sweep file (resumable, shardable, several at once), lists
// its points, or merges the results files of its shards.
#include "command.hpp"

#include "shrink/core/error.hpp"
#include "shrink/jobs/sweep.hpp"
#include "shrink/jobs/sweep_results.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace shrink::cli {
namespace {

struct SweepFlags {
  CommonOptions common;
  std::string sweep_path;
  std::string model;  // instead of the sweep file's
  std::string out;
  std::string shard;
  int jobs = 1;
  bool list = false;
  std::vector<std::string> merge;
  int64_t point = -1;  // internal: run this one point and print its result line
};

Shard chosen_shard(const SweepFlags& flags) {
  if (!flags.shard.empty()) return parse_shard(flags.shard);
  const Shard shard = shard_from_environment();
  if (shard.count > 1) spdlog::info("Slurm job array: running shard {}/{}", shard.index, shard.count);
  return shard;
}

void merge(const SweepFlags& flags) {
  require(flags.sweep_path.empty(), "--merge takes results files only; the sweep file is not needed");
  require(!flags.out.empty(), "--merge needs --out FILE.jsonl for the merged results");
  const MergeSummary summary = merge_results(flags.merge, flags.out);
  write_report(flags.common, summary.to_json());
  std::printf("merged %lld lines from %zu files into %s: %lld points, %lld duplicates, %zu conflicts\n",
              static_cast<long long>(summary.lines), flags.merge.size(), flags.out.c_str(),
              static_cast<long long>(summary.points), static_cast<long long>(summary.duplicates),
              summary.conflicts.size());
  for (const std::string& key : summary.conflicts)
    std::printf("conflict: %s (results differ; kept the first)\n", key.c_str());
}

void list(const Sweep& sweep, const SweepFlags& flags) {
  const ResultsFile done = flags.out.empty() ? ResultsFile{} : read_results(flags.out);
  for (const SweepPoint& point : shard_points(sweep.points, chosen_shard(flags)))
    std::printf("%lld\t%s%s\n", static_cast<long long>(point.index), point.key.c_str(),
                flags.out.empty() ? "" : done.keys.count(point.key) ? "\tdone" : "\tpending");
}

void run(SweepFlags& flags) {
  apply_common_options(flags.common);
  if (!flags.merge.empty()) return merge(flags);
  require(!flags.sweep_path.empty(), "give a sweep file (shrink sweep SWEEP.json --out results.jsonl), "
                                     "or --merge FILES --out FILE");
  Sweep sweep = read_sweep(flags.sweep_path);
  if (!flags.model.empty()) sweep.model = flags.model;
  if (flags.point >= 0) {
    require(flags.point < static_cast<int64_t>(sweep.points.size()),
            "--point " + std::to_string(flags.point) + ": the sweep has " + std::to_string(sweep.points.size()) +
                " points");
    std::printf("%s\n", run_sweep_point(sweep, sweep.points[static_cast<size_t>(flags.point)]).dump().c_str());
    return;
  }
  if (flags.list) return list(sweep, flags);
  require(!flags.out.empty(), "give the results file: --out results.jsonl (a rerun skips the points in it)");
  // Every point would fail on it: say so once instead.
  require(std::filesystem::is_regular_file(sweep.model),
          "the base model " + sweep.model + " does not exist (the sweep's \"model\" is relative to the sweep "
          "file; --model FILE names another)");

  // Each point runs in a child process (this program, with --point), so a crash or a kill
  // costs only the points in flight.
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  SweepRun sweep_run;
  sweep_run.out = flags.out;
  sweep_run.shard = chosen_shard(flags);
  sweep_run.jobs = flags.jobs;
  std::vector<std::string> child = {self, "sweep", flags.sweep_path, "-q"};
  if (!flags.model.empty()) child.insert(child.end(), {"--model", flags.model});
  sweep_run.runner = child_process_runner(std::move(child));
  sweep_run.on_result = [&](const nlohmann::json& line, int64_t done, int64_t total) {
    const bool ok = line["status"] == "ok";
    spdlog::info("[{}/{}] point {} {}: {}", done, total, line["index"].get<int64_t>(), line["key"].get<std::string>(),
                 ok ? fmt::format("accuracy {:.2f}%, {} bytes, {:.1f} s",
                                  100.0 * line["report"].value("accuracy_after", 0.0),
                                  line["report"].value("file_bytes_after", int64_t{0}),
                                  line.value("seconds", 0.0))
                    : "failed: " + line.value("error", std::string()));
  };
  const SweepSummary summary = run_sweep(sweep, sweep_run);
  write_report(flags.common, {{"points", summary.points}, {"skipped", summary.skipped},
                              {"ran", summary.ran}, {"failed", summary.failed}, {"out", flags.out}});
  std::printf("%lld points in this shard: %lld already done, %lld ran (%lld failed); results in %s\n",
              static_cast<long long>(summary.points), static_cast<long long>(summary.skipped),
              static_cast<long long>(summary.ran), static_cast<long long>(summary.failed), flags.out.c_str());
}

}  // namespace

void register_sweep(CLI::App& app) {
  auto flags = std::make_shared<SweepFlags>();
  CLI::App* cmd = app.add_subcommand(
      "sweep", "Run a grid of compression experiments: resumable, shardable (Slurm, GNU parallel), merged");
  cmd->add_option("sweep", flags->sweep_path, "Sweep file (JSON: model, recipe with ${placeholders}, grid)");
  cmd->add_option("--model", flags->model,
                  "Base model to compress instead of the sweep file's \"model\" (one results file per model: another is refused)");
  cmd->add_option("--out", flags->out, "Results file (JSON lines), appended to; with --merge, the merged file");
  cmd->add_option("--shard", flags->shard,
                  "Run only shard INDEX/COUNT (every COUNT-th point from INDEX); default: from "
                  "SLURM_ARRAY_TASK_ID/COUNT in a Slurm job array, else all points");
  cmd->add_option("--jobs", flags->jobs, "Points run at once on this machine")
      ->check(number_in(1, 1024))->capture_default_str();
  cmd->add_flag("--list", flags->list, "Print the points (of this shard; with --out, done or pending) and exit");
  cmd->add_option("--merge", flags->merge, "Join these shards' results files into --out")->expected(1, -1);
  cmd->add_option("--point", flags->point, "Run the point with this index and print its result line")
      ->group("");  // what the sweep starts in each child process
  add_common_options(*cmd, flags->common);
  // --threads and --seed would do nothing: a point's threads come from the sweep file and its seed from its options.
  cmd->remove_option(cmd->get_option("--threads"));
  cmd->remove_option(cmd->get_option("--seed"));
  cmd->callback([flags] { run(*flags); });
}

}  // namespace shrink::cli
