#pragma once
// The AVX2 XNOR-popcount GEMM (xnor_nibbles.hpp), included by isa/avx2.cpp only: it is written
// in AVX2 intrinsics rather than vec.hpp's float V, and compiled for -march=x86-64-v3, so a
// -march=native build on an AVX-512 machine times the very code an AVX2 CPU runs (16 vector
// registers, no EVEX encodings).
//
// It turns Mula's popcount around. Mula looks each nibble of x ^ w up in a table of the 16
// nibble popcounts: per 64 bits of a row an XOR, two masks, a shift, two shuffles and two adds,
// with both shuffles on the one port that shuffles on many CPUs. Here the table depends on the
// input: for input nibble v, table v holds popcount(v ^ n) for n = 0..15, and the weights,
// stored a nibble a byte for 32 outputs side by side, are the shuffle's indices. One shuffle and
// one add count 4 bits of 32 outputs; each weight register serves every batch row of a tile,
// each row with its own table.
#include "nn/kernels/xnor_nibbles.hpp"

#include <immintrin.h>

namespace shrink::kernels::avx2 {

struct XorCountTables {
  alignas(32) uint8_t t[16][32];  // t[v][n] = popcount(v ^ (n % 16)), once per 128-bit lane
};

constexpr XorCountTables make_xor_count_tables() {
  XorCountTables tables{};
  for (unsigned v = 0; v < 16; ++v)
    for (unsigned n = 0; n < 32; ++n) {
      unsigned bits = v ^ (n % 16), count = 0;
      for (; bits; bits &= bits - 1) ++count;
      tables.t[v][n] = static_cast<uint8_t>(count);
    }
  return tables;
}

constexpr XorCountTables kXorCounts = make_xor_count_tables();

// A byte counter gains at most 4 a nibble: 63 nibbles (252) fit before it is widened.
constexpr int64_t kNibblesPerFlush = 63;

// Adds 32 byte counts to 32 int32 counts.
inline void add_byte_counts(__m256i bytes, int32_t* counts) {
  const __m128i lo = _mm256_castsi256_si128(bytes), hi = _mm256_extracti128_si256(bytes, 1);
  const __m128i quarters[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
  for (int q = 0; q < 4; ++q) {
    auto* c = reinterpret_cast<__m256i*>(counts + 8 * q);
    const __m256i widened = _mm256_cvtepu8_epi32(quarters[q]);
    _mm256_store_si256(c, _mm256_add_epi32(_mm256_load_si256(c), widened));
  }
}

// A tile is R batch rows by B blocks of 32 outputs, over all the nibbles. `x` holds each row's
// nibbles as table offsets (nibble * 4: the table is at tables + 8 * offset), `steps` a row.
// The R * B byte counters stay in registers for up to 63 nibbles, then widen into int32 counts.
template <int64_t R, int64_t B>
void xnor_tile(const XnorNibbleArgs& a, const uint8_t* x, int64_t steps, int64_t b, float* y) {
  const uint8_t* block = a.nibbles + b * steps * kXnorNibbleLanes;
  const int64_t block_stride = steps * kXnorNibbleLanes;
  const auto* tables = reinterpret_cast<const char*>(kXorCounts.t);
  alignas(32) int32_t counts[R][B * kXnorNibbleLanes] = {};
  for (int64_t p0 = 0; p0 < steps; p0 += kNibblesPerFlush) {
    const int64_t p1 = steps - p0 < kNibblesPerFlush ? steps : p0 + kNibblesPerFlush;
    __m256i acc[R][B];
    for (int64_t i = 0; i < R; ++i)
      for (int64_t j = 0; j < B; ++j) acc[i][j] = _mm256_setzero_si256();
    for (int64_t p = p0; p < p1; ++p) {
      __m256i wp[B];
      for (int64_t j = 0; j < B; ++j)
        wp[j] = _mm256_loadu_si256(
            reinterpret_cast<const __m256i*>(block + j * block_stride + p * kXnorNibbleLanes));
      for (int64_t i = 0; i < R; ++i) {
        const __m256i table = _mm256_load_si256(
            reinterpret_cast<const __m256i*>(tables + 8 * static_cast<uint64_t>(x[i * steps + p])));
        for (int64_t j = 0; j < B; ++j)
          acc[i][j] = _mm256_add_epi8(acc[i][j], _mm256_shuffle_epi8(table, wp[j]));
      }
      // Each counter stays in its register: without this GCC 12 adds into a temporary and copies
      // it back every nibble (the tile ran 10% slower).
      for (int64_t i = 0; i < R; ++i)
        for (int64_t j = 0; j < B; ++j) __asm__("" : "+x"(acc[i][j]));
    }
    for (int64_t i = 0; i < R; ++i)
      for (int64_t j = 0; j < B; ++j) add_byte_counts(acc[i][j], counts[i] + j * kXnorNibbleLanes);
  }
  // y = scale * (cols - 2 count) + bias with one rounding, as every path (the dot is exact).
  const __m256 cols = _mm256_set1_ps(static_cast<float>(a.cols));
  const __m256 minus_two = _mm256_set1_ps(-2.0f);
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int64_t c = 0; c < B * kXnorNibbleLanes; c += 8) {
    const int64_t o = b * kXnorNibbleLanes + c;
    if (o >= a.outputs) break;
    const int64_t valid = a.outputs - o < 8 ? a.outputs - o : 8;
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(valid)), lane);
    const __m256 scale = _mm256_loadu_ps(a.scale + o);  // padded to whole blocks
    const __m256 shift = a.bias ? _mm256_maskload_ps(a.bias + o, mask) : _mm256_setzero_ps();
    for (int64_t i = 0; i < R; ++i) {
      const __m256 count =
          _mm256_cvtepi32_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(counts[i] + c)));
      const __m256 out = _mm256_fmadd_ps(scale, _mm256_fmadd_ps(minus_two, count, cols), shift);
      if (valid == 8)
        _mm256_storeu_ps(y + i * a.ldy + o, out);
      else
        _mm256_maskstore_ps(y + i * a.ldy + o, mask, out);
    }
  }
}

// Every row tile (4 rows, then the 1-3 left) of the blocks [b, b + B).
template <int64_t B>
void xnor_row_tiles(const XnorNibbleArgs& a, int64_t steps, int64_t b) {
  int64_t r = 0;
  for (; r + 4 <= a.rows; r += 4)
    xnor_tile<4, B>(a, a.scratch + r * steps, steps, b, a.y + r * a.ldy);
  const uint8_t* x = a.scratch + r * steps;
  float* y = a.y + r * a.ldy;
  switch (a.rows - r) {
    case 3: xnor_tile<3, B>(a, x, steps, b, y); break;
    case 2: xnor_tile<2, B>(a, x, steps, b, y); break;
    case 1: xnor_tile<1, B>(a, x, steps, b, y); break;
    default: break;
  }
}

void xnor_nibble_gemm(const XnorNibbleArgs& a) {
  // Each input word's 16 nibbles as table offsets, in order: byte j's low nibble is nibble 2j,
  // its high one 2j + 1; times 4 still fits the byte (at most 60).
  const __m128i low_nibbles = _mm_set1_epi8(0x0F);
  for (int64_t k = 0; k < a.rows * a.words; ++k) {
    const __m128i v = _mm_cvtsi64_si128(static_cast<long long>(a.x_bits[k]));
    const __m128i lo = _mm_and_si128(v, low_nibbles);
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), low_nibbles);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(a.scratch + k * kXnorNibblesPerWord),
                     _mm_slli_epi16(_mm_unpacklo_epi8(lo, hi), 2));
  }
  // Blocks outside, rows inside: a pair of blocks' weights (2 x 32 bytes a nibble) and the rows'
  // nibbles stay in L1 while every row tile passes over them.
  const int64_t steps = a.words * kXnorNibblesPerWord;
  int64_t b = a.block_begin;
  for (; b + 2 <= a.block_end; b += 2) xnor_row_tiles<2>(a, steps, b);
  if (b < a.block_end) xnor_row_tiles<1>(a, steps, b);
}

}  // namespace shrink::kernels::avx2
