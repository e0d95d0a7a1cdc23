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
//
// Conv2d at LeNet-5's convolutions (1->20 5x5 on 28x28, 20->50 5x5 on 12x12) and a 3x3 32->32
// on 14x14 (padded, resnet-small's), the same sparsities and batches:
//   conv_dense:  the oneDNN convolution (nn/kernels/onednn_convolution.hpp), what shrink eval
//                runs a Conv2d on with SHRINK_SPARSE=off (unpruned: its time ignores zeros);
//   conv_sparse: the broadcast kernel over the zero-padded planes (stride 1) or im2col's
//                columns (nn/kernels/sparse_conv.hpp), forced.
// Same counters (dense-equivalent: 2 * batch * out * in/groups * kh * kw * positions).
#include "../src/nn/kernels/onednn_convolution.hpp"
#include "../src/nn/kernels/sparse_conv.hpp"
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

// The convolutions: input channels, height (= width), output channels, kernel, padding.
struct ConvLayerShape {
  int64_t channels, size, out_channels, kernel, pad;
};
constexpr ConvLayerShape kConvShapes[] = {{1, 28, 20, 5, 0}, {20, 12, 50, 5, 0}, {32, 14, 32, 3, 1}};

struct ConvLayer {
  kernels::SparseConvShape shape;
  int64_t batch;
  Tensor x, y;
  Parameter weight, bias;
  int64_t nonzeros = 0;

  // Args: shape index, sparsity %, batch.
  explicit ConvLayer(const benchmark::State& state) : batch(state.range(2)) {
    set_num_threads(bench_threads());
    const ConvLayerShape& c = kConvShapes[state.range(0)];
    shape.g.channels = c.channels;
    shape.g.height = shape.g.width = c.size;
    shape.g.kernel_h = shape.g.kernel_w = c.kernel;
    shape.g.pad_h = shape.g.pad_w = c.pad;
    shape.out_channels = c.out_channels;
    x = Tensor({batch, c.channels, c.size, c.size});
    y = Tensor({batch, c.out_channels, shape.g.out_h(), shape.g.out_w()});
    weight.value = Tensor({c.out_channels, c.channels, c.kernel, c.kernel});
    bias.value = Tensor({c.out_channels});
    Rng rng(7);
    for (float& v : x) v = rng.uniform(-1.0f, 1.0f);
    for (float& v : weight.value) {
      v = rng.uniform() * 100.0f < static_cast<float>(state.range(1)) ? 0.0f : rng.uniform(-0.1f, 0.1f);
      nonzeros += v != 0.0f;
    }
    for (float& v : bias.value) v = rng.uniform(-0.1f, 0.1f);
    weight.mark_changed();
    bias.mark_changed();
  }

  void counters(benchmark::State& state, double multiply_adds) const {
    const double dense_macs = static_cast<double>(batch * weight.value.numel() * shape.positions());
    state.counters["GFLOP/s"] =
        benchmark::Counter(2.0 * multiply_adds * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["dense-eq GFLOP/s"] =
        benchmark::Counter(2.0 * dense_macs * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["density"] =
        static_cast<double>(nonzeros) / static_cast<double>(weight.value.numel());
  }
};

void conv_dense(benchmark::State& state) {
  ConvLayer l(state);
  kernels::Fp32ConvolutionGeometry g;
  g.out_channels = l.shape.out_channels;
  g.kernel_h = l.shape.g.kernel_h;
  g.kernel_w = l.shape.g.kernel_w;
  g.pad_h = l.shape.g.pad_h;
  g.pad_w = l.shape.g.pad_w;
  kernels::Fp32Convolution conv(g, {});
  for (auto _ : state) {
    conv.forward(l.weight, &l.bias, nullptr, l.x, nullptr, l.y);
    benchmark::DoNotOptimize(l.y.data());
  }
  l.counters(state, static_cast<double>(l.batch * l.weight.value.numel() * l.shape.positions()));
  state.SetLabel(conv.implementation());
}

void conv_sparse(benchmark::State& state) {
  ConvLayer l(state);
  const kernels::SparseKernels& k = kernels::sparse_kernels();
  const kernels::SparseConvWeight w = kernels::prepare_sparse_conv(
      kernels::compress_rows(l.weight.value.data(), l.shape.out_channels, l.shape.taps()), l.shape);
  kernels::Epilogue epilogue;
  epilogue.shift = l.bias.value.data();
  kernels::SparseConvScratch scratch;
  for (auto _ : state) {
    kernels::sparse_conv(k, kernels::conv_kernels(), w, l.batch, l.x.data(), epilogue, l.y.data(), scratch);
    benchmark::DoNotOptimize(l.y.data());
  }
  l.counters(state, static_cast<double>(l.batch * l.nonzeros * l.shape.positions()));
  state.SetLabel(kernels::isa_name(k.isa));
}

// The dense convolution's time does not depend on the zeros: it runs once per shape, unpruned.
template <bool kDense>
void conv_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"shape", "sparsity", "batch"});
  for (int64_t batch : {1, 256})
    for (int64_t shape = 0; shape < 3; ++shape)
      for (int64_t sparsity : {50, 70, 90, 95})
        if (!kDense || sparsity == 50) b->Args({shape, kDense ? 0 : sparsity, batch});
  b->UseRealTime();
}

BENCHMARK(peak_fma)->UseRealTime();
BENCHMARK(dense)->Apply(shapes);
BENCHMARK(sparse)->Apply(shapes);
BENCHMARK(conv_dense)->Apply(conv_shapes<true>);
BENCHMARK(conv_sparse)->Apply(conv_shapes<false>);

}  // namespace
}  // namespace shrink
