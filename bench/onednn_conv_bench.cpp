// GFLOP/s of the fp32 inference convolutions on oneDNN (nn/kernels/onednn_convolution.hpp) for
// the layer kinds of small CNNs, at a slice of 8 samples with channels-last tensors (how
// `shrink eval` runs them between layers), against the machine's fp32 peak: independent chains
// of vfmadd on 512-bit (AVX-512) and 256-bit (AVX2) registers. FLOPs are 2 x the direct
// convolution's MACs (a Winograd layer does fewer), per second of the main thread's CPU time, so
// a loaded machine still shows what a core does while it runs: run with SHRINK_THREADS=1.
// SHRINK_ISA=avx2 caps oneDNN to its AVX2 kernels; the label names the kernel it picked.
#include "../src/nn/kernels/onednn_convolution.hpp"
#include "bench_threads.hpp"
#include "shrink/core/random.hpp"
#include "shrink/core/threading.hpp"

#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <cstdint>
#include <limits>

namespace shrink {
namespace {

constexpr int kChains = 12;
constexpr int64_t kSteps = 1 << 16;

template <typename Fma>
void peak(benchmark::State& state, int lanes, Fma fma) {
  for (auto _ : state) {
#pragma omp parallel num_threads(bench_threads())
    benchmark::DoNotOptimize(fma());
  }
  const double flops = 2.0 * lanes * kChains * static_cast<double>(kSteps) * bench_threads();
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

#if defined(__AVX512F__)
void peak_fp32_avx512(benchmark::State& state) {
  peak(state, 16, [] {
    __m512 acc[kChains];
    for (auto& a : acc) a = _mm512_setzero_ps();
    const __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-3f);
    for (int64_t i = 0; i < kSteps; ++i)
      for (auto& a : acc) a = _mm512_fmadd_ps(a, x, y);
    float sum = 0.0f;
    for (auto& a : acc) sum += _mm512_reduce_add_ps(a);
    return sum;
  });
}
BENCHMARK(peak_fp32_avx512);
#endif

#if defined(__FMA__)
void peak_fp32_avx2(benchmark::State& state) {
  peak(state, 8, [] {
    __m256 acc[kChains];
    for (auto& a : acc) a = _mm256_setzero_ps();
    const __m256 x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(1e-3f);
    for (int64_t i = 0; i < kSteps; ++i)
      for (auto& a : acc) a = _mm256_fmadd_ps(a, x, y);
    alignas(32) float lanes[8];
    float sum = 0.0f;
    for (auto& a : acc) {
      _mm256_store_ps(lanes, a);
      for (float v : lanes) sum += v;
    }
    return sum;
  });
}
BENCHMARK(peak_fp32_avx2);
#endif

Parameter random_parameter(const Shape& shape, uint64_t seed) {
  Parameter p;
  p.value = Tensor(shape);
  Rng rng(seed);
  for (float& v : p.value) v = rng.uniform(-0.5f, 0.5f);
  return p;
}

// A convolution of `channels` -> `out` channels on size x size inputs with a ReLU, channels-last
// in and out, batch state.range(0).
void convolution(benchmark::State& state, int64_t channels, int64_t out, int64_t size, int64_t kernel,
                 int64_t stride, int64_t groups) {
  set_num_threads(bench_threads());
  kernels::Fp32ConvolutionGeometry g;
  g.out_channels = out;
  g.groups = groups;
  g.kernel_h = g.kernel_w = kernel;
  g.stride_h = g.stride_w = stride;
  g.pad_h = g.pad_w = kernel / 2;
  kernels::Fp32Convolution conv(g, {false, 0.0f, std::numeric_limits<float>::infinity()});
  conv.set_layouts({true, false, true});
  const int64_t n = state.range(0), out_size = (size + 2 * (kernel / 2) - kernel) / stride + 1;
  const Parameter weight = random_parameter({out, channels / groups, kernel, kernel}, 1);
  const Parameter bias = random_parameter({out}, 2);
  const Tensor x = random_parameter({n, channels, size, size}, 3).value;
  Tensor y({n, out, out_size, out_size});
  conv.forward(weight, &bias, nullptr, x, nullptr, y);  // makes the primitive
  for (auto _ : state) {
    conv.forward(weight, &bias, nullptr, x, nullptr, y);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetLabel(conv.implementation());
  const double macs = static_cast<double>(n * out * out_size * out_size * (channels / groups) * kernel * kernel);
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * macs * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// Dense 3x3 (thin; wide, which runs Winograd on AVX-512), strided 3x3, 1x1 and depthwise 3x3:
// the layers of scripts/make_cnn_fixtures.py's nets, resnet-small and vgg-small.
void conv3x3_16_16_28x28(benchmark::State& s) { convolution(s, 16, 16, 28, 3, 1, 1); }
void conv3x3_32_32_28x28(benchmark::State& s) { convolution(s, 32, 32, 28, 3, 1, 1); }
void conv3x3_32_32_14x14(benchmark::State& s) { convolution(s, 32, 32, 14, 3, 1, 1); }
void conv3x3_64_64_14x14(benchmark::State& s) { convolution(s, 64, 64, 14, 3, 1, 1); }
void conv3x3_16_32_28x28_stride2(benchmark::State& s) { convolution(s, 16, 32, 28, 3, 2, 1); }
void pointwise_64_128_7x7(benchmark::State& s) { convolution(s, 64, 128, 7, 1, 1, 1); }
void pointwise_24_16_28x28(benchmark::State& s) { convolution(s, 24, 16, 28, 1, 1, 1); }
void depthwise_32_28x28(benchmark::State& s) { convolution(s, 32, 32, 28, 3, 1, 32); }
void depthwise_64_28x28_stride2(benchmark::State& s) { convolution(s, 64, 64, 28, 3, 2, 64); }

BENCHMARK(conv3x3_16_16_28x28)->Arg(8);
BENCHMARK(conv3x3_32_32_28x28)->Arg(8);
BENCHMARK(conv3x3_32_32_14x14)->Arg(8);
BENCHMARK(conv3x3_64_64_14x14)->Arg(8);
BENCHMARK(conv3x3_16_32_28x28_stride2)->Arg(8);
BENCHMARK(pointwise_64_128_7x7)->Arg(8);
BENCHMARK(pointwise_24_16_28x28)->Arg(8);
BENCHMARK(depthwise_32_28x28)->Arg(8);
BENCHMARK(depthwise_64_28x28_stride2)->Arg(8);

}  // namespace
}  // namespace shrink
