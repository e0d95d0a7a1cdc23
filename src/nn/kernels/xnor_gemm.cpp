#include "nn/kernels/xnor_gemm.hpp"

#include "nn/kernels/isa.hpp"
#include "nn/kernels/parallel.hpp"
#include "nn/kernels/xnor_nibbles.hpp"
#include "shrink/core/error.hpp"
#include "shrink/core/threading.hpp"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <type_traits>

namespace shrink::kernels {
namespace {

constexpr int64_t kLanes = 8;  // outputs per block

int64_t words_for(int64_t cols) { return (cols + 63) / 64; }

// One block's 8 counts -> outputs, skipping the padding rows of the last block.
void store_block(const uint64_t* counts, const PackedBinaryRows& w, const float* bias,
                 int64_t block, float* y_row) {
  for (int64_t j = 0; j < kLanes; ++j) {
    const int64_t o = block * kLanes + j;
    if (o >= w.rows) break;
    const float dot = static_cast<float>(w.cols - 2 * static_cast<int64_t>(counts[j]));
    // One rounding, as the AVX-512 path's fused multiply-add: every path gives the same bits.
    y_row[o] = std::fma(w.scale[static_cast<size_t>(o)], dot, bias ? bias[o] : 0.0f);
  }
}

// Every path computes a tile of kRows batch rows by a few weight blocks per pass over the words,
// so each weight word loaded serves every row and each broadcast input word every block; the
// counts stay in registers until the tile is stored. Rows left over at the end of the batch
// take the same loop with fewer rows (the templates below are instantiated for 1..kRows).
constexpr int64_t kRows = 4;

// Calls tile(r, rows_in_tile) with a compile-time rows_in_tile for each tile of the batch.
template <class Tile>
void for_each_row_tile(int64_t rows, Tile&& tile) {
  int64_t r = 0;
  for (; r + kRows <= rows; r += kRows) tile(r, std::integral_constant<int64_t, kRows>{});
  switch (rows - r) {
    case 3: tile(r, std::integral_constant<int64_t, 3>{}); break;
    case 2: tile(r, std::integral_constant<int64_t, 2>{}); break;
    case 1: tile(r, std::integral_constant<int64_t, 1>{}); break;
    default: break;
  }
}

// R rows by one block with std::popcount (a POPCNT instruction where the build allows it).
template <int64_t R>
void xnor_portable_tile(const uint64_t* x, const PackedBinaryRows& w, const float* bias,
                        int64_t b, float* y, int64_t ldy) {
  const uint64_t* block = w.bits.data() + b * w.words * kLanes;
  uint64_t counts[R][kLanes] = {};
  for (int64_t j = 0; j < kLanes; ++j)
    for (int64_t k = 0; k < w.words; ++k) {
      const uint64_t word = block[k * kLanes + j];
      for (int64_t i = 0; i < R; ++i)
        counts[i][j] += static_cast<uint64_t>(std::popcount(x[i * w.words + k] ^ word));
    }
  for (int64_t i = 0; i < R; ++i) store_block(counts[i], w, bias, b, y + i * ldy);
}

void xnor_portable(const uint64_t* x_bits, int64_t rows, const PackedBinaryRows& w,
                   const float* bias, int64_t b0, int64_t b1, float* y, int64_t ldy) {
  for_each_row_tile(rows, [&](int64_t r, auto tile_rows) {
    for (int64_t b = b0; b < b1; ++b)
      xnor_portable_tile<tile_rows()>(x_bits + r * w.words, w, bias, b, y + r * ldy, ldy);
  });
}

// The AVX2 path (a table of nibble popcounts per input nibble, indexed by the weights) is in
// isa/xnor_avx2_impl.hpp, compiled for AVX2 alone.
void xnor_avx2(const uint64_t* x_bits, int64_t rows, const PackedBinaryRows& w, const float* bias,
               int64_t b0, int64_t b1, float* y, int64_t ldy) {
#ifdef SHRINK_KERNELS_AVX2
  std::vector<uint8_t> scratch(static_cast<size_t>(rows * w.words * kXnorNibblesPerWord));
  avx2::xnor_nibble_gemm({x_bits, rows, w.words, scratch.data(), w.nibbles.data(), w.scale.data(),
                          w.rows, w.cols, bias, b0, b1, y, ldy});
#else
  (void)x_bits, (void)rows, (void)w, (void)bias, (void)b0, (void)b1, (void)y, (void)ldy;
  throw Error::internal("the XNOR kernel's AVX2 path is not in this build");
#endif
}

// One 512-bit register holds word k of a block's 8 rows: XOR with the broadcast input word,
// VPOPCNTQ, add; the 8 counts become 8 outputs with no horizontal reduction. A tile is R rows
// by B blocks: R * B counters, and per word B loads and R broadcasts for R * B popcounts.
template <int64_t R, int64_t B>
__attribute__((target("avx512f,avx512dq,avx512vl,avx512vpopcntdq,fma"))) void xnor_avx512_tile(
    const uint64_t* x, const PackedBinaryRows& w, const float* bias, int64_t b, float* y,
    int64_t ldy) {
  const uint64_t* block = w.bits.data() + b * w.words * kLanes;
  const int64_t block_stride = w.words * kLanes;
  __m512i counts[R][B];
  for (int64_t i = 0; i < R; ++i)
    for (int64_t j = 0; j < B; ++j) counts[i][j] = _mm512_setzero_si512();
  for (int64_t k = 0; k < w.words; ++k) {
    __m512i wk[B];
    for (int64_t j = 0; j < B; ++j)
      wk[j] = _mm512_loadu_si512(block + j * block_stride + k * kLanes);
    for (int64_t i = 0; i < R; ++i) {
      const __m512i xi = _mm512_set1_epi64(static_cast<long long>(x[i * w.words + k]));
      for (int64_t j = 0; j < B; ++j)
        counts[i][j] =
            _mm512_add_epi64(counts[i][j], _mm512_popcnt_epi64(_mm512_xor_si512(xi, wk[j])));
    }
  }
  const __m256 cols = _mm256_set1_ps(static_cast<float>(w.cols));
  const __m256 minus_two = _mm256_set1_ps(-2.0f);
  for (int64_t j = 0; j < B; ++j) {
    const int64_t o = (b + j) * kLanes;
    const __m256 scale = _mm256_loadu_ps(w.scale.data() + o);
    const int64_t valid = std::min<int64_t>(kLanes, w.rows - o);
    const __mmask8 mask = static_cast<__mmask8>((1u << valid) - 1u);
    const __m256 shift = bias ? _mm256_maskz_loadu_ps(mask, bias + o) : _mm256_setzero_ps();
    for (int64_t i = 0; i < R; ++i) {
      const __m256 dot = _mm256_fmadd_ps(minus_two, _mm512_cvtepi64_ps(counts[i][j]), cols);
      _mm256_mask_storeu_ps(y + i * ldy + o, mask, _mm256_fmadd_ps(scale, dot, shift));
    }
  }
}

__attribute__((target("avx512f,avx512dq,avx512vl,avx512vpopcntdq,fma"))) void xnor_avx512(
    const uint64_t* x_bits, int64_t rows, const PackedBinaryRows& w, const float* bias,
    int64_t b0, int64_t b1, float* y, int64_t ldy) {
  constexpr int64_t kBlocks = 2;
  for_each_row_tile(rows, [&](int64_t r, auto tile_rows) {
    constexpr int64_t R = tile_rows();
    const uint64_t* x = x_bits + r * w.words;
    float* y_tile = y + r * ldy;
    int64_t b = b0;
    for (; b + kBlocks <= b1; b += kBlocks)
      xnor_avx512_tile<R, kBlocks>(x, w, bias, b, y_tile, ldy);
    if (b < b1) xnor_avx512_tile<R, 1>(x, w, bias, b, y_tile, ldy);
  });
}

}  // namespace

bool xnor_path_supported(XnorPath path) {
  switch (path) {
    case XnorPath::Portable: return true;
    case XnorPath::Avx2: {  // compiled with the AVX2 kernel set (isa/avx2.cpp)
      const std::vector<Isa> isas = runnable_isas();
      return std::find(isas.begin(), isas.end(), Isa::Avx2) != isas.end();
    }
    case XnorPath::Avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vpopcntdq");
  }
  return false;
}

XnorPath best_xnor_path() {
  // Capped by the instruction set the other kernels run (SHRINK_ISA, the build's cap), so
  // SHRINK_ISA=avx2 times this path too; AVX-512 without VPOPCNTDQ falls back to AVX2.
  static const XnorPath best = [] {
    const Isa isa = best_isa();
    if (isa == Isa::Avx512 && xnor_path_supported(XnorPath::Avx512)) return XnorPath::Avx512;
    if (isa != Isa::Portable && xnor_path_supported(XnorPath::Avx2)) return XnorPath::Avx2;
    return XnorPath::Portable;
  }();
  return best;
}

const char* xnor_path_name(XnorPath path) {
  switch (path) {
    case XnorPath::Portable: return "portable";
    case XnorPath::Avx2: return "avx2";
    case XnorPath::Avx512: return "avx512-vpopcntdq";
  }
  return "?";
}

bool pack_binary_rows(XnorPath path, const float* m, int64_t rows, int64_t cols,
                      PackedBinaryRows& out) {
  out.path = path;
  out.rows = rows;
  out.cols = cols;
  out.words = words_for(cols);
  out.lanes = path == XnorPath::Avx2 ? kXnorNibbleLanes : kLanes;
  const int64_t padded_rows = out.blocks() * out.lanes, steps = out.words * kXnorNibblesPerWord;
  out.bits.clear();
  out.nibbles.clear();
  if (path == XnorPath::Avx2)
    out.nibbles.assign(static_cast<size_t>(padded_rows * steps), 0);
  else
    out.bits.assign(static_cast<size_t>(padded_rows * out.words), 0);
  out.scale.assign(static_cast<size_t>(padded_rows), 0.0f);
  std::vector<uint64_t> row_bits(static_cast<size_t>(out.words));
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = m + r * cols;
    const float alpha = cols ? std::abs(row[0]) : 0.0f;
    std::fill(row_bits.begin(), row_bits.end(), 0);
    for (int64_t c = 0; c < cols; ++c) {
      if (std::abs(row[c]) != alpha) return false;
      row_bits[static_cast<size_t>(c / 64)] |= uint64_t{std::signbit(row[c])} << (c % 64);
    }
    out.scale[static_cast<size_t>(r)] = alpha;
    const int64_t block = r / out.lanes, lane = r % out.lanes;
    if (path == XnorPath::Avx2) {
      uint8_t* nibbles = out.nibbles.data() + block * steps * kXnorNibbleLanes + lane;
      for (int64_t p = 0; p < steps; ++p)
        nibbles[p * kXnorNibbleLanes] =
            static_cast<uint8_t>((row_bits[static_cast<size_t>(p / kXnorNibblesPerWord)] >>
                                  (4 * (p % kXnorNibblesPerWord))) & 0x0F);
    } else {
      uint64_t* bits = out.bits.data() + block * out.words * kLanes + lane;
      for (int64_t k = 0; k < out.words; ++k) bits[k * kLanes] = row_bits[static_cast<size_t>(k)];
    }
  }
  return true;
}

namespace {

// The sign bit of 64 values and whether all of them are exactly +-1 (|v| has the bits of 1.0f).
// The last word of a row takes the portable loop, which stops at `count`.
bool pack_word_portable(const float* v, int64_t count, uint64_t& word) {
  // No early exit inside the word, so the loop vectorizes; the check is per word.
  bool plus_minus_one = true;
  word = 0;
  for (int64_t i = 0; i < count; ++i) {
    plus_minus_one &= std::abs(v[i]) == 1.0f;
    word |= uint64_t{std::bit_cast<uint32_t>(v[i]) >> 31} << i;
  }
  return plus_minus_one;
}

__attribute__((target("avx2"))) bool pack_word_avx2(const float* v, uint64_t& word) {
  const __m256i magnitude = _mm256_set1_epi32(0x7FFFFFFF), one = _mm256_set1_epi32(0x3F800000);
  word = 0;
  int all_one = -1;
  for (int i = 0; i < 8; ++i) {
    const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + 8 * i));
    const auto signs = static_cast<uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(bits)));
    word |= uint64_t{signs} << (8 * i);
    all_one &= _mm256_movemask_epi8(_mm256_cmpeq_epi32(_mm256_and_si256(bits, magnitude), one));
  }
  return all_one == -1;
}

__attribute__((target("avx512f,avx512dq"))) bool pack_word_avx512(const float* v, uint64_t& word) {
  const __m512i magnitude = _mm512_set1_epi32(0x7FFFFFFF), one = _mm512_set1_epi32(0x3F800000);
  word = 0;
  __mmask16 all_one = 0xFFFF;
  for (int i = 0; i < 4; ++i) {
    const __m512i bits = _mm512_loadu_si512(v + 16 * i);
    word |= uint64_t{_mm512_movepi32_mask(bits)} << (16 * i);
    all_one &= _mm512_cmpeq_epi32_mask(_mm512_and_si512(bits, magnitude), one);
  }
  return all_one == 0xFFFF;
}

}  // namespace

bool pack_plus_minus_one(XnorPath path, const float* x, int64_t rows, int64_t cols,
                         std::vector<uint64_t>& bits) {
  const int64_t words = words_for(cols), full = cols / 64;
  bits.resize(static_cast<size_t>(rows * words));
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * cols;
    uint64_t* out = bits.data() + r * words;
    bool plus_minus_one = true;
    int64_t k = 0;
    if (path == XnorPath::Avx512)
      for (; k < full; ++k) plus_minus_one &= pack_word_avx512(row + 64 * k, out[k]);
    else if (path == XnorPath::Avx2)
      for (; k < full; ++k) plus_minus_one &= pack_word_avx2(row + 64 * k, out[k]);
    for (; k < words; ++k)
      plus_minus_one &=
          pack_word_portable(row + 64 * k, std::min<int64_t>(64, cols - 64 * k), out[k]);
    if (!plus_minus_one) return false;
  }
  return true;
}

void xnor_gemm(const uint64_t* x_bits, int64_t rows, const PackedBinaryRows& w, const float* bias,
               int64_t block_begin, int64_t block_end, float* y, int64_t ldy) {
  switch (w.path) {
    case XnorPath::Avx512: return xnor_avx512(x_bits, rows, w, bias, block_begin, block_end, y, ldy);
    case XnorPath::Avx2: return xnor_avx2(x_bits, rows, w, bias, block_begin, block_end, y, ldy);
    case XnorPath::Portable: return xnor_portable(x_bits, rows, w, bias, block_begin, block_end, y, ldy);
  }
}

bool BinaryLinear::forward(const Parameter& weight, const Tensor& x, const float* bias, Tensor& y) {
  if (!weight.quantized()) return false;
  const uint64_t version = weight.effective_version();
  const XnorPath path = best_xnor_path();
  if (version != version_) {
    const Tensor& w = weight.effective();
    binary_ = w.rank() == 2 && pack_binary_rows(path, w.data(), w.dim(0), w.dim(1), packed_);
    version_ = version;
  }
  if (!binary_ || x.rank() != 2 || x.dim(1) != packed_.cols) return false;
  const int64_t n = x.dim(0);
  if (!pack_plus_minus_one(path, x.data(), n, packed_.cols, x_bits_)) return false;
  const int64_t blocks = packed_.blocks();
  // A popcount does 64 multiply-adds: the team pays off from a sixty-fourth of the float size.
  const bool parallel = n * packed_.words * packed_.rows * 64 >= kParallelMacs * 64;
#pragma omp parallel num_threads(num_threads()) if (parallel)
  {
    const auto [b0, b1] = thread_range(blocks, omp_get_thread_num(), omp_get_num_threads());
    if (b1 > b0) xnor_gemm(x_bits_.data(), n, packed_, bias, b0, b1, y.data(), packed_.rows);
  }
  return true;
}

}  // namespace shrink::kernels
