#pragma once
// Batch experiments: a sweep file names a base model and a compression recipe with
// placeholders, and a grid (and/or a list) of values for them; every combination is one point,
// run as an independent compress job that yields one JSON line of results.
//
//   {"model": "lenet-300-100.shrk", "data": "fashion-mnist", "threads": 1,
//    "recipe": {"passes": [{"pass": "prune.magnitude", "sparsity": "${sparsity}"},
//                          {"pass": "train.finetune", "epochs": 1}]},
//    "grid": {"sparsity": [0.5, 0.9], "seed": [0, 1]},
//    "points": [{"sparsity": 0.95, "seed": 0}]}
//
// A string "${name}" anywhere in the recipe becomes the point's value of `name` (keeping its
// JSON type); inside a longer string it is replaced by the value's text. "seed" is the seed
// of the point's fine-tuning and needs no placeholder. Paths are relative to the sweep file.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace shrink {

struct SweepPoint {
  int64_t index = 0;        // position in the sweep's expansion (grid first, then the list)
  nlohmann::json options;   // {"seed": 0, "sparsity": 0.9}
  std::string key;          // options as compact JSON with sorted keys: the point's identity
};

struct Sweep {
  std::string path;         // the sweep file, for messages
  std::string model;        // resolved against the sweep file's directory
  std::string data = "fashion-mnist";
  nlohmann::json recipe;    // with placeholders
  int threads = 1;          // per point: the same seed and thread count give the same bits
  // Batch sizes each point's model is timed at before and after (compress's default; empty:
  // not timed, which saves a few seconds a point).
  std::vector<int64_t> latency_batches = {1, 256};
  std::string models_dir;   // keep each point's model here as point-<index>.shrk (empty: don't)
  std::vector<SweepPoint> points;
};

// Expands the grid (the cartesian product, keys in alphabetical order, the last key varying
// fastest) followed by the listed points. Throws a bad-input Error naming the sweep file and the
// field for a missing model or recipe, an empty or non-list grid entry, a placeholder no point
// gives a value for, or an option that no placeholder uses.
Sweep parse_sweep(const nlohmann::json& json, const std::string& path);
Sweep read_sweep(const std::string& path);

// The recipe of one point: every placeholder replaced by the point's value.
nlohmann::json point_recipe(const Sweep& sweep, const SweepPoint& point);

struct Shard {
  int index = 0;  // 0 <= index < count
  int count = 1;
};
// "i/n" with 0 <= i < n (bad-input Error otherwise, naming `flag`).
Shard parse_shard(const std::string& text, const std::string& flag = "--shard");
// The shard a Slurm job array task runs: SLURM_ARRAY_TASK_ID minus SLURM_ARRAY_TASK_MIN (0 when
// unset) of SLURM_ARRAY_TASK_COUNT tasks; {0, 1} when not in a job array.
Shard shard_from_environment();
// The points of a shard: every `count`-th point starting at `index`, so the shards of one
// sweep partition it whatever its size.
std::vector<SweepPoint> shard_points(const std::vector<SweepPoint>& points, const Shard& shard);

// Runs one point in this process (a compress job with the point's recipe and seed) and returns
// its result line: {"key", "index", "point", "status": "ok", "seconds", "threads", "report"} or,
// when the job fails, "status": "failed" with "error" (the message) instead of the report.
nlohmann::json run_sweep_point(const Sweep& sweep, const SweepPoint& point);

// How a sweep runs its pending points. `runner` produces a point's result line (in process or
// in a child process); `on_result` is called (from one thread at a time) as each line is
// appended.
struct SweepRun {
  std::string out;  // results file (JSON lines), appended to
  Shard shard;
  int jobs = 1;     // points run at once
  std::function<nlohmann::json(const SweepPoint&)> runner;
  std::function<void(const nlohmann::json& line, int64_t done, int64_t total)> on_result;
};
struct SweepSummary {
  int64_t points = 0;   // in this shard
  int64_t skipped = 0;  // already in the results file
  int64_t ran = 0;
  int64_t failed = 0;   // of those run
};
// What a sweep's results depend on besides a point's options: the base model's bytes and the
// recipe. {"model": path, "model_bytes", "model_crc32", "recipe_crc32"}; every result line
// carries it under "base", so results of another model or recipe are never taken for this one's.
nlohmann::json sweep_base(const Sweep& sweep);

// Skips the shard's points already in `run.out`, runs the others `run.jobs` at a time and
// appends each result line as it arrives (whole lines, synced to disk). A results file holding
// lines of another base (model or recipe) is a bad-input Error: one results file per base.
SweepSummary run_sweep(const Sweep& sweep, const SweepRun& run);

// A runner that starts `command` plus "--point INDEX" as a child process for each point and
// reads its result line from the child's standard output; a child that dies without one gives
// a failed line saying how it ended. The child is killed if this process dies.
std::function<nlohmann::json(const SweepPoint&)> child_process_runner(std::vector<std::string> command);

}  // namespace shrink
