#pragma once
// Measured inference time of a model at a batch size: warm-up runs, then timed forward passes
// until enough repeats and time have passed, reported by their median (a noisy machine's
// outliers move the mean, not the median). Reports quote it beside MACs, which do not say how
// fast a model really is.
#include "shrink/nn/model.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <vector>

namespace shrink {

struct LatencyOptions {
  int warmup = 2;              // untimed forward passes first (buffers, caches, threads)
  int min_repeats = 5;         // timed passes: at least this many ...
  int max_repeats = 100;       // ... and at most this many ...
  double min_seconds = 1.0;    // ... stopping once this much time was spent timing
  uint64_t seed = 0;           // of the random input
};

struct Latency {
  int64_t batch = 0;
  int repeats = 0;
  double median_ms = 0.0;
  double min_ms = 0.0;
  double max_ms = 0.0;
  double samples_per_s() const { return median_ms > 0 ? 1000.0 * batch / median_ms : 0.0; }
  // {"batch", "repeats", "median_ms", "min_ms", "max_ms", "samples_per_s"}
  nlohmann::json to_json() const;
};

// Times model.forward in inference mode on a random batch of `batch` samples, on the threads
// set_num_threads() chose.
Latency measure_latency(Model& model, int64_t batch, const LatencyOptions& options = {});

// Two models timed in alternation (one pass of each per repeat), so a machine that slows down
// or speeds up during the measurement affects both alike: the fair way to compare a model with
// its compressed version.
struct LatencyComparison {
  Latency before, after;
  double speedup() const { return after.median_ms > 0 ? before.median_ms / after.median_ms : 0.0; }
  // {"batch", "before": {...}, "after": {...}, "speedup"}
  nlohmann::json to_json() const;
};
LatencyComparison compare_latency(Model& before, Model& after, int64_t batch,
                                  const LatencyOptions& options = {});

}  // namespace shrink
