// Dense vs sparse Linear inference at LeNet-300-100's shapes (784x300, 300x100), 50/70/90/95%
// of the weights zero (at random, as magnitude pruning leaves them), batch 1 and 256.
//   dense:  the Linear op's GEMM (OpenBLAS), what SHRINK_SPARSE=off and training run;
//   sparse: the sparse kernels (nn/kernels/sparse_linear.hpp) on the instruction set SHRINK_ISA
//           picks (the widest this CPU runs when unset), forced at every sparsity so the
//           crossover the density threshold sits at can be read off.
// Counters: GFLOP/s of the multiply-adds actually done (2 per non-zero and sample; the dense
// GEMM does them all) and "dense-equivalent" GFLOP/s (2 * batch * in * out per second for both,
// so the two kinds of case compare directly), beside peak_fma. Thread count: SHRINK_THREADS
// (default 2). Run with --benchmark_counters_tabular=true.
#include "../src/nn/kernels/sparse_linear.hpp"
#include "bench_threads.hpp"
#include "peak_fma.hpp"
#include "shrink/core/random.hpp"
#include "shrink/core/threading.hpp"
#include "shrink/nn/op.hpp"

#include <benchmark/benchmark.h>

#include <memory>
#include <string>

namespace shrink {
namespace {

struct Layer {
  int64_t in, out, batch;
  Tensor x, y, weight, bias;
  int64_t nonzeros = 0;

  Layer(int64_t in_, int64_t out_, int64_t sparsity_percent, int64_t batch_)
      : in(in_), out(out_), batch(batch_), x({batch_, in_}), weight({out_, in_}), bias({out_}) {
    set_num_threads(bench_threads());
    Rng rng(7);
    for (float& v : x) v = rng.uniform(-1.0f, 1.0f);
    for (float& v : weight) {
      v = rng.uniform() * 100.0f < static_cast<float>(sparsity_percent) ? 0.0f : rng.uniform(-0.1f, 0.1f);
      nonzeros += v != 0.0f;
    }
    for (float& v : bias) v = rng.uniform(-0.1f, 0.1f);
  }

  void counters(benchmark::State& state, double multiply_adds) const {
    state.counters["GFLOP/s"] =
        benchmark::Counter(2.0 * multiply_adds * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["dense-eq GFLOP/s"] = benchmark::Counter(
        2.0 * static_cast<double>(batch * in * out) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["density"] = static_cast<double>(nonzeros) / static_cast<double>(in * out);
  }
};

// Args: in, out, sparsity %, batch.
void dense(benchmark::State& state) {
  Layer l(state.range(0), state.range(1), state.range(2), state.range(3));
  std::unique_ptr<Op> op = make_op("Linear", {{"out_features", l.out}});
  Parameter w, b;
  w.value = l.weight;
  b.value = l.bias;
  OpArgs args;
  args.inputs = {&l.x};
  args.params = {&w, &b};
  args.training = true;  // the dense path: training never runs sparse
  for (auto _ : state) {
    op->forward(args, l.y);
    benchmark::DoNotOptimize(l.y.data());
  }
  l.counters(state, static_cast<double>(l.batch * l.in * l.out));
}

void sparse(benchmark::State& state) {
  Layer l(state.range(0), state.range(1), state.range(2), state.range(3));
  const kernels::SparseKernels& k = kernels::sparse_kernels();
  const kernels::SparseWeight w = kernels::compress_weight(k, l.weight.data(), l.out, l.in);
  kernels::SparseScratch scratch;
  for (auto _ : state) {
    kernels::sparse_linear(k, w, l.x, l.bias.data(), l.y, scratch);
    benchmark::DoNotOptimize(l.y.data());
  }
  l.counters(state, static_cast<double>(l.batch * l.nonzeros));
  state.SetLabel(kernels::isa_name(k.isa));
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"in", "out", "sparsity", "batch"});
  for (int64_t batch : {1, 256})
    for (const auto& [in, out] : {std::pair{784, 300}, std::pair{300, 100}})
      for (int64_t sparsity : {50, 70, 90, 95}) b->Args({in, out, sparsity, batch});
  b->UseRealTime();
}

BENCHMARK(peak_fma)->UseRealTime();
BENCHMARK(dense)->Apply(shapes);
BENCHMARK(sparse)->Apply(shapes);

}  // namespace
}  // namespace shrink
