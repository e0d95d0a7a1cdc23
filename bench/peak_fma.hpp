#pragma once
// The machine's float peak, a benchmark case the kernel benchmarks read their GFLOP/s against.
#include "bench_threads.hpp"

#include <Eigen/Core>
#include <benchmark/benchmark.h>

#include <cstdint>

namespace shrink {

// The machine's float peak: every thread runs independent chains of the widest vector FMA
// Eigen uses here (16 floats with AVX-512, 8 with AVX2), enough chains to hide its latency.
// The kernels' GFLOP/s read against this figure.
inline void peak_fma(benchmark::State& state) {
  using Packet = Eigen::internal::packet_traits<float>::type;
  constexpr int kChains = 16;
  constexpr int64_t kSteps = 1 << 16;
  const int threads = bench_threads();
  const int64_t lanes = Eigen::internal::packet_traits<float>::size;
  for (auto _ : state) {
#pragma omp parallel num_threads(threads)
    {
      Packet acc[kChains];
      for (auto& a : acc) a = Eigen::internal::pset1<Packet>(0.0f);
      const Packet x = Eigen::internal::pset1<Packet>(0.999f);
      const Packet y = Eigen::internal::pset1<Packet>(1e-3f);
      for (int64_t i = 0; i < kSteps; ++i)
        for (auto& a : acc) a = Eigen::internal::pmadd(a, x, y);
      float sum = 0.0f;
      for (auto& a : acc) sum += Eigen::internal::predux(a);
      benchmark::DoNotOptimize(sum);
    }
  }
  const double flops = 2.0 * static_cast<double>(lanes * kChains * kSteps * threads);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace shrink
