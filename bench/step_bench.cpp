// Whole steps of the built-in models on a fixed random batch: one training step as the trainer
// runs it (forward, cross-entropy, backward setting the grads, SGD with momentum) at batch 64,
// and one inference forward at batch 256. These are what `shrink train` and `shrink eval`
// repeat, without the data loading, so they show where a step's time goes (perf record on this
// binary) and how it scales with SHRINK_THREADS (default 2). Counter: samples/s.
#include "bench_threads.hpp"
#include "shrink/core/random.hpp"
#include "shrink/core/threading.hpp"
#include "shrink/nn/architectures.hpp"
#include "shrink/nn/loss.hpp"
#include "shrink/train/optimizer.hpp"

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

namespace shrink {
namespace {

struct Batch {
  Tensor x;
  std::vector<int32_t> labels;
  Batch(int64_t n) : x({n, 1, 28, 28}), labels(static_cast<size_t>(n)) {
    Rng rng(3);
    for (float& v : x) v = rng.uniform(0.0f, 1.0f);
    for (auto& label : labels) label = static_cast<int32_t>(rng.uniform(0.0f, 10.0f)) % 10;
  }
};

void train_step(benchmark::State& state, const std::string& arch) {
  set_num_threads(bench_threads());
  Model model = build_architecture(arch, {1, 28, 28}, 10);
  Sgd sgd({.lr = 0.01f, .momentum = 0.9f});
  const Batch batch(state.range(0));
  Tensor grad_logits;
  for (auto _ : state) {
    const Tensor& logits = model.forward(batch.x, /*training=*/true);
    benchmark::DoNotOptimize(cross_entropy(logits, batch.labels, 0.0f, &grad_logits));
    model.backward(grad_logits, /*accumulate=*/false);
    sgd.step(model);
  }
  state.counters["samples/s"] = benchmark::Counter(static_cast<double>(state.range(0)),
                                                   benchmark::Counter::kIsIterationInvariantRate);
}

void inference(benchmark::State& state, const std::string& arch) {
  set_num_threads(bench_threads());
  Model model = build_architecture(arch, {1, 28, 28}, 10);
  const Batch batch(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(model.forward(batch.x, /*training=*/false).data());
  state.counters["samples/s"] = benchmark::Counter(static_cast<double>(state.range(0)),
                                                   benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK_CAPTURE(train_step, lenet_300_100, std::string("lenet-300-100"))->Arg(64)->UseRealTime();
BENCHMARK_CAPTURE(train_step, lenet5, std::string("lenet5"))->Arg(64)->UseRealTime();
BENCHMARK_CAPTURE(inference, lenet_300_100, std::string("lenet-300-100"))->Arg(256)->UseRealTime();
BENCHMARK_CAPTURE(inference, lenet5, std::string("lenet5"))->Arg(256)->UseRealTime();

}  // namespace
}  // namespace shrink
