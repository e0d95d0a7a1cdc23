// The machine's int8 multiply-add peak, to read the int8 layers' speed against (bench/int8_speed.sh,
// docs/benchmarks.md): every thread runs independent chains of
//   VNNI:  vpdpbusd on 512-bit registers, 64 u8 x s8 multiply-adds into int32 per instruction;
//   AVX2:  vpmaddubsw + vpmaddwd + vpaddd on 256-bit registers, 32 multiply-adds in three
//          instructions (what oneDNN runs without VNNI);
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
      __m256i x[kChains];
      for (auto& v : x) v = _mm256_set1_epi8(3);
      const __m256i w = _mm256_set1_epi8(-2), ones = _mm256_set1_epi16(1);
      for (int64_t i = 0; i < kSteps; ++i)
        for (int c = 0; c < kChains; ++c) {
          // An empty asm that "changes" the input, so the products are not hoisted out of the loop.
          asm volatile("" : "+x"(x[c]));
          acc[c] = _mm256_add_epi32(acc[c], _mm256_madd_epi16(_mm256_maddubs_epi16(x[c], w), ones));
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
#endif

}  // namespace
}  // namespace shrink
