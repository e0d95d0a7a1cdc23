#pragma once
// The float vector the kernels of one instruction set are written against. Included only by
// the per-ISA sources in this folder, each of which defines exactly one of SHRINK_VEC_AVX512,
// SHRINK_VEC_AVX2 or SHRINK_VEC_PORTABLE and is compiled with the matching -march. Everything
// lives in a namespace named after the instruction set (kernel code is included into it), so
// the AVX-512 and the portable copies of a function never share a symbol; these files call no
// standard-library function for the same reason (the linker keeps one copy of an inline
// function, and it might be the one compiled for the wider instruction set).
#include <cstdint>

#if defined(SHRINK_VEC_AVX512) || defined(SHRINK_VEC_AVX2)
#include <immintrin.h>
#endif

#if defined(SHRINK_VEC_AVX512)
#define SHRINK_VEC_NAMESPACE avx512
#elif defined(SHRINK_VEC_AVX2)
#define SHRINK_VEC_NAMESPACE avx2
#elif defined(SHRINK_VEC_PORTABLE)
#define SHRINK_VEC_NAMESPACE portable
#else
#error "define SHRINK_VEC_AVX512, SHRINK_VEC_AVX2 or SHRINK_VEC_PORTABLE before including vec.hpp"
#endif

namespace shrink::kernels::SHRINK_VEC_NAMESPACE {

#if defined(SHRINK_VEC_AVX512)

constexpr int kLanes = 16;
constexpr int kRegisters = 32;
struct V {
  __m512 v;
};
inline V zero() { return {_mm512_setzero_ps()}; }
inline V set1(float x) { return {_mm512_set1_ps(x)}; }
inline V load(const float* p) { return {_mm512_loadu_ps(p)}; }
inline __mmask16 lane_mask(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
// The first n lanes (0 < n <= kLanes); the rest read as zero and are never touched in memory.
inline V load_first(const float* p, int n) { return {_mm512_maskz_loadu_ps(lane_mask(n), p)}; }
inline void store(float* p, V a) { _mm512_storeu_ps(p, a.v); }
inline void store_first(float* p, V a, int n) { _mm512_mask_storeu_ps(p, lane_mask(n), a.v); }
inline V fma(V a, V b, V c) { return {_mm512_fmadd_ps(a.v, b.v, c.v)}; }
inline V add(V a, V b) { return {_mm512_add_ps(a.v, b.v)}; }
// The all-lanes masked forms: GCC 12's _mm512_max_ps passes an "undefined" vector that its own
// -Wuninitialized then reports (GCC bug 105593); these compile to the same vmaxps / vminps.
inline V max(V a, V b) { return {_mm512_maskz_max_ps(0xFFFF, a.v, b.v)}; }
inline V min(V a, V b) { return {_mm512_maskz_min_ps(0xFFFF, a.v, b.v)}; }
// Table lookups: lane i of lookup<kByte>(table, offsets) is table[byte kByte of offsets' lane
// i], a permute within registers where a gather would load each lane on its own. An Offsets
// vector holds four bytes per lane, the offsets of four lookups (sparse_kernels_impl.hpp).
// AVX-512: a table of 32 floats in two vectors; the permute reads the low 5 bits of each lane.
constexpr int kTable = 32;
struct Offsets {
  __m512i v;
};
inline Offsets load_offsets(const uint8_t* p) { return {_mm512_loadu_si512(p)}; }
template <int kByte>
inline V lookup(const float* table, Offsets offsets) {
  // The all-lanes masked shift (GCC bug 105593, as for max and min above).
  const __m512i index = kByte == 0 ? offsets.v : _mm512_maskz_srli_epi32(0xFFFF, offsets.v, 8 * kByte);
  return {_mm512_permutex2var_ps(_mm512_loadu_ps(table), index, _mm512_loadu_ps(table + 16))};
}

#elif defined(SHRINK_VEC_AVX2)

constexpr int kLanes = 8;
constexpr int kRegisters = 16;
struct V {
  __m256 v;
};
inline V zero() { return {_mm256_setzero_ps()}; }
inline V set1(float x) { return {_mm256_set1_ps(x)}; }
inline V load(const float* p) { return {_mm256_loadu_ps(p)}; }
// Lane i is selected when i < n: a window into eight -1s followed by eight 0s.
inline __m256i lane_mask(int n) {
  alignas(32) static const int32_t kWindow[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                   0,  0,  0,  0,  0,  0,  0,  0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kWindow + 8 - n));
}
inline V load_first(const float* p, int n) { return {_mm256_maskload_ps(p, lane_mask(n))}; }
inline void store(float* p, V a) { _mm256_storeu_ps(p, a.v); }
inline void store_first(float* p, V a, int n) { _mm256_maskstore_ps(p, lane_mask(n), a.v); }
inline V fma(V a, V b, V c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }
inline V add(V a, V b) { return {_mm256_add_ps(a.v, b.v)}; }
inline V max(V a, V b) { return {_mm256_max_ps(a.v, b.v)}; }
inline V min(V a, V b) { return {_mm256_min_ps(a.v, b.v)}; }
// AVX2: a table of 8 floats in one vector; the permute reads the low 3 bits of each lane.
constexpr int kTable = 8;
struct Offsets {
  __m256i v;
};
inline Offsets load_offsets(const uint8_t* p) {
  return {_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))};
}
template <int kByte>
inline V lookup(const float* table, Offsets offsets) {
  const __m256i index = kByte == 0 ? offsets.v : _mm256_srli_epi32(offsets.v, 8 * kByte);
  return {_mm256_permutevar8x32_ps(_mm256_loadu_ps(table), index)};
}

#else

// Four floats in plain loops: compiled for baseline x86-64 the compiler maps them onto SSE2.
constexpr int kLanes = 4;
constexpr int kRegisters = 16;
struct V {
  float v[kLanes];
};
inline V zero() { return {{0.0f, 0.0f, 0.0f, 0.0f}}; }
inline V set1(float x) { return {{x, x, x, x}}; }
inline V load(const float* p) { return {{p[0], p[1], p[2], p[3]}}; }
inline V load_first(const float* p, int n) {
  V r = zero();
  for (int i = 0; i < n; ++i) r.v[i] = p[i];
  return r;
}
inline void store(float* p, V a) {
  for (int i = 0; i < kLanes; ++i) p[i] = a.v[i];
}
inline void store_first(float* p, V a, int n) {
  for (int i = 0; i < n; ++i) p[i] = a.v[i];
}
// Multiply, then add (two roundings, as SSE2 has no fused multiply-add).
inline V fma(V a, V b, V c) {
  V r;
  for (int i = 0; i < kLanes; ++i) r.v[i] = a.v[i] * b.v[i] + c.v[i];
  return r;
}
inline V add(V a, V b) {
  V r;
  for (int i = 0; i < kLanes; ++i) r.v[i] = a.v[i] + b.v[i];
  return r;
}
inline V max(V a, V b) {
  V r;
  for (int i = 0; i < kLanes; ++i) r.v[i] = a.v[i] > b.v[i] ? a.v[i] : b.v[i];
  return r;
}
inline V min(V a, V b) {
  V r;
  for (int i = 0; i < kLanes; ++i) r.v[i] = a.v[i] < b.v[i] ? a.v[i] : b.v[i];
  return r;
}
constexpr int kTable = 4;
struct Offsets {
  const uint8_t* p;
};
inline Offsets load_offsets(const uint8_t* p) { return {p}; }
template <int kByte>
inline V lookup(const float* table, Offsets offsets) {
  V r;
  for (int i = 0; i < kLanes; ++i) r.v[i] = table[offsets.p[4 * i + kByte]];
  return r;
}

#endif

}  // namespace shrink::kernels::SHRINK_VEC_NAMESPACE
