#include "shrink/report/latency.hpp"

#include "shrink/core/error.hpp"
#include "shrink/core/random.hpp"

#include <algorithm>
#include <chrono>

namespace shrink {
namespace {

using Clock = std::chrono::steady_clock;

Tensor random_batch(const Model& model, int64_t batch, uint64_t seed) {
  Shape shape{batch};
  shape.insert(shape.end(), model.input_shape().begin(), model.input_shape().end());
  Tensor x(shape);
  Rng rng(seed);
  for (float& v : x) v = rng.normal(0.0f, 1.0f);
  return x;
}

void check(const Model& model, int64_t batch, const LatencyOptions& options) {
  require(batch >= 1, "latency needs a batch of at least 1 sample, got " + std::to_string(batch));
  require(options.warmup >= 0 && options.min_repeats >= 1 &&
              options.max_repeats >= options.min_repeats && options.min_seconds >= 0.0,
          "latency options need warmup >= 0 and 1 <= min_repeats <= max_repeats");
  require(!model.nodes().empty(), "latency needs a model with nodes");
}

double milliseconds_of_forward(Model& model, const Tensor& x) {
  const auto start = Clock::now();
  model.forward(x, false);
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

Latency summarize(int64_t batch, std::vector<double> times) {
  Latency l;
  l.batch = batch;
  l.repeats = static_cast<int>(times.size());
  std::sort(times.begin(), times.end());
  const size_t n = times.size();
  l.median_ms = n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
  l.min_ms = times.front();
  l.max_ms = times.back();
  return l;
}

// Runs `step` (which times one repeat of every model) until the options say enough.
template <class Step>
void repeat(const LatencyOptions& options, Step step) {
  const auto start = Clock::now();
  for (int r = 0; r < options.max_repeats; ++r) {
    step();
    const double spent = std::chrono::duration<double>(Clock::now() - start).count();
    if (r + 1 >= options.min_repeats && spent >= options.min_seconds) break;
  }
}

}  // namespace

nlohmann::json Latency::to_json() const {
  return {{"batch", batch},   {"repeats", repeats}, {"median_ms", median_ms},
          {"min_ms", min_ms}, {"max_ms", max_ms},   {"samples_per_s", samples_per_s()}};
}

Latency measure_latency(Model& model, int64_t batch, const LatencyOptions& options) {
  check(model, batch, options);
  const Tensor x = random_batch(model, batch, options.seed);
  for (int w = 0; w < options.warmup; ++w) model.forward(x, false);
  std::vector<double> times;
  repeat(options, [&] { times.push_back(milliseconds_of_forward(model, x)); });
  return summarize(batch, std::move(times));
}

nlohmann::json LatencyComparison::to_json() const {
  return {{"batch", before.batch},
          {"before", before.to_json()},
          {"after", after.to_json()},
          {"speedup", speedup()}};
}

LatencyComparison compare_latency(Model& before, Model& after, int64_t batch,
                                  const LatencyOptions& options) {
  check(before, batch, options);
  check(after, batch, options);
  require(before.input_shape() == after.input_shape(),
          "latency comparison needs models with the same input, got " +
              to_string(before.input_shape()) + " and " + to_string(after.input_shape()));
  const Tensor x = random_batch(before, batch, options.seed);
  for (int w = 0; w < options.warmup; ++w) {
    before.forward(x, false);
    after.forward(x, false);
  }
  std::vector<double> a, b;
  repeat(options, [&] {
    a.push_back(milliseconds_of_forward(before, x));
    b.push_back(milliseconds_of_forward(after, x));
  });
  return {summarize(batch, std::move(a)), summarize(batch, std::move(b))};
}

}  // namespace shrink
