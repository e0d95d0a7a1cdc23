// The machine's int8 multiply-add peak, to read the int8 layers' speed against (bench/int8_speed.sh,
// docs/benchmarks.md): every thread runs independent chains of
//   VNNI:  vpdpbusd on 512-bit registers, 64 u8 x s8 multiply-adds into int32 per instruction;
//   AVX2:  vpmaddubsw + vpmaddwd + vpaddd on 256-bit registers, 32 multiply-adds in three
//          instructions (what oneDNN runs without VNNI);
//   fp32:  vfmadd on 256-bit registers, 8 multiply-adds (the AVX2 fp32 baseline);
// enough chains to hide the latency. GMAC/s counts multiply-adds (one MAC = 2 ops), per second of
// the main thread's CPU time, so a loaded machine still shows what a core does while it runs
// (SHRINK_THREADS=1 gives one core's peak).
#include "bench_threads.hpp"

#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <cstdint>

namespace shrink {
namespace {

constexpr int kChains = 8;
constexpr int64_t kSteps = 1 << 16;

void report(benchmark::State& state, double macs_per_step) {
  const double macs = macs_per_step * static_cast<double>(kChains * kSteps * bench_threads());
  state.counters["GMAC/s"] = benchmark::Counter(macs * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
void peak_vnni512(benchmark::State& state) {
  for (auto _ : state) {
#pragma omp parallel num_threads(bench_threads())
    {
      __m512i acc[kChains];
      for (auto& a : acc) a = _mm512_setzero_si512();
      const __m512i x = _mm512_set1_epi8(3), w = _mm512_set1_epi8(-2);
      for (int64_t i = 0; i < kSteps; ++i)
        for (auto& a : acc) a = _mm512_dpbusd_epi32(a, x, w);
      int32_t sum = 0;
      for (auto& a : acc) sum += _mm512_reduce_add_epi32(a);
      benchmark::DoNotOptimize(sum);
    }
  }
  report(state, 64);
}
BENCHMARK(peak_vnni512)->Unit(benchmark::kMillisecond);
#endif

#if defined(__AVX2__)
void peak_avx2_int8(benchmark::State& state) {
  for (auto _ : state) {
#pragma omp parallel num_threads(bench_threads())
    {
      __m256i acc[kChains];
      for (auto& a : acc) a = _mm256_setzero_si256();
      // The input changes every step (a load from a small table in L1), so the products cannot
      // be hoisted out of the loop; each chain has its own weights.
      alignas(32) uint8_t table[8][32];
      for (int r = 0; r < 8; ++r)
        for (int k = 0; k < 32; ++k) table[r][k] = static_cast<uint8_t>(r + k);
      __m256i w[kChains];
      for (int c = 0; c < kChains; ++c) w[c] = _mm256_set1_epi8(static_cast<char>(c - 4));
      const __m256i ones = _mm256_set1_epi16(1);
      for (int64_t i = 0; i < kSteps; ++i) {
        const __m256i x = _mm256_load_si256(reinterpret_cast<const __m256i*>(table[i & 7]));
        for (int c = 0; c < kChains; ++c)
          acc[c] = _mm256_add_epi32(acc[c], _mm256_madd_epi16(_mm256_maddubs_epi16(x, w[c]), ones));
      }
      int32_t sum = 0;
      for (auto& a : acc) {
        alignas(32) int32_t lanes[8];
        _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), a);
        for (int32_t v : lanes) sum += v;
      }
      benchmark::DoNotOptimize(sum);
    }
  }
  report(state, 32);
}
BENCHMARK(peak_avx2_int8)->Unit(benchmark::kMillisecond);

// The fp32 counterpart on the same registers: vfmadd on 256 bits, 8 multiply-adds each.
void peak_avx2_fp32(benchmark::State& state) {
  for (auto _ : state) {
#pragma omp parallel num_threads(bench_threads())
    {
      __m256 acc[kChains];
      for (auto& a : acc) a = _mm256_setzero_ps();
      const __m256 x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(1e-3f);
      for (int64_t i = 0; i < kSteps; ++i)
        for (auto& a : acc) a = _mm256_fmadd_ps(a, x, y);
      float sum = 0.0f;
      for (auto& a : acc) {
        alignas(32) float lanes[8];
        _mm256_store_ps(lanes, a);
        for (float v : lanes) sum += v;
      }
      benchmark::DoNotOptimize(sum);
    }
  }
  report(state, 8);
}
BENCHMARK(peak_avx2_fp32)->Unit(benchmark::kMillisecond);
#endif

}  // namespace
}  // namespace shrink
