#include "nn/kernels/xnor_gemm.hpp"

#include "nn/kernels/parallel.hpp"
#include "shrink/core/threading.hpp"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>

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

void xnor_portable(const uint64_t* x_bits, int64_t rows, const PackedBinaryRows& w,
                   const float* bias, int64_t b0, int64_t b1, float* y, int64_t ldy) {
  for (int64_t r = 0; r < rows; ++r) {
    const uint64_t* x = x_bits + r * w.words;
    for (int64_t b = b0; b < b1; ++b) {
      const uint64_t* block = w.bits.data() + b * w.words * kLanes;
      uint64_t counts[kLanes] = {};
      for (int64_t k = 0; k < w.words; ++k)
        for (int64_t j = 0; j < kLanes; ++j)
          counts[j] += static_cast<uint64_t>(std::popcount(x[k] ^ block[k * kLanes + j]));
      store_block(counts, w, bias, b, y + r * ldy);
    }
  }
}

// Popcount of each byte by a table of the 16 nibbles (Mula's method); the byte counts add up
// for up to 31 words before they are summed into 64-bit lanes.
__attribute__((target("avx2,fma"))) void xnor_avx2(const uint64_t* x_bits, int64_t rows,
                                               const PackedBinaryRows& w, const float* bias,
                                               int64_t b0, int64_t b1, float* y, int64_t ldy) {
  const __m256i table = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
  constexpr int64_t kWordsPerFlush = 31;  // 31 * 8 = 248 fits a byte
  for (int64_t r = 0; r < rows; ++r) {
    const uint64_t* x = x_bits + r * w.words;
    for (int64_t b = b0; b < b1; ++b) {
      const uint64_t* block = w.bits.data() + b * w.words * kLanes;
      alignas(32) uint64_t counts[kLanes];
      for (int half = 0; half < 2; ++half) {
        __m256i total = _mm256_setzero_si256();
        for (int64_t k0 = 0; k0 < w.words; k0 += kWordsPerFlush) {
          __m256i bytes = _mm256_setzero_si256();
          for (int64_t k = k0; k < std::min(w.words, k0 + kWordsPerFlush); ++k) {
            const __m256i v = _mm256_xor_si256(
                _mm256_set1_epi64x(static_cast<long long>(x[k])),
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + k * kLanes + 4 * half)));
            const __m256i lo = _mm256_shuffle_epi8(table, _mm256_and_si256(v, low_nibbles));
            const __m256i hi =
                _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(v, 4), low_nibbles));
            bytes = _mm256_add_epi8(bytes, _mm256_add_epi8(lo, hi));
          }
          total = _mm256_add_epi64(total, _mm256_sad_epu8(bytes, _mm256_setzero_si256()));
        }
        _mm256_store_si256(reinterpret_cast<__m256i*>(counts + 4 * half), total);
      }
      store_block(counts, w, bias, b, y + r * ldy);
    }
  }
}

// One 512-bit register holds word k of the block's 8 rows: XOR with the broadcast input word,
// VPOPCNTQ, add; the 8 counts become 8 outputs with no horizontal reduction.
__attribute__((target("avx512f,avx512dq,avx512vl,avx512vpopcntdq,fma"))) void xnor_avx512(
    const uint64_t* x_bits, int64_t rows, const PackedBinaryRows& w, const float* bias,
    int64_t b0, int64_t b1, float* y, int64_t ldy) {
  const __m256 cols = _mm256_set1_ps(static_cast<float>(w.cols));
  const __m256 minus_two = _mm256_set1_ps(-2.0f);
  for (int64_t r = 0; r < rows; ++r) {
    const uint64_t* x = x_bits + r * w.words;
    float* y_row = y + r * ldy;
    for (int64_t b = b0; b < b1; ++b) {
      const uint64_t* block = w.bits.data() + b * w.words * kLanes;
      __m512i counts = _mm512_setzero_si512();
      for (int64_t k = 0; k < w.words; ++k) {
        const __m512i v = _mm512_xor_si512(_mm512_set1_epi64(static_cast<long long>(x[k])),
                                           _mm512_loadu_si512(block + k * kLanes));
        counts = _mm512_add_epi64(counts, _mm512_popcnt_epi64(v));
      }
      const __m256 dot = _mm256_fmadd_ps(minus_two, _mm512_cvtepi64_ps(counts), cols);
      const int64_t o = b * kLanes;
      const __m256 scale = _mm256_loadu_ps(w.scale.data() + o);
      const int64_t valid = std::min<int64_t>(kLanes, w.rows - o);
      const __mmask8 mask = static_cast<__mmask8>((1u << valid) - 1u);
      const __m256 shift = bias ? _mm256_maskz_loadu_ps(mask, bias + o) : _mm256_setzero_ps();
      _mm256_mask_storeu_ps(y_row + o, mask, _mm256_fmadd_ps(scale, dot, shift));
    }
  }
}

}  // namespace

bool xnor_path_supported(XnorPath path) {
  switch (path) {
    case XnorPath::Portable: return true;
    case XnorPath::Avx2: return __builtin_cpu_supports("avx2");
    case XnorPath::Avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vpopcntdq");
  }
  return false;
}

XnorPath best_xnor_path() {
  static const XnorPath best = xnor_path_supported(XnorPath::Avx512) ? XnorPath::Avx512
                               : xnor_path_supported(XnorPath::Avx2) ? XnorPath::Avx2
                                                                     : XnorPath::Portable;
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

bool pack_binary_rows(const float* m, int64_t rows, int64_t cols, PackedBinaryRows& out) {
  out.rows = rows;
  out.cols = cols;
  out.words = words_for(cols);
  out.bits.assign(static_cast<size_t>(out.blocks() * out.words * kLanes), 0);
  out.scale.assign(static_cast<size_t>(out.blocks() * kLanes), 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = m + r * cols;
    const float alpha = cols ? std::abs(row[0]) : 0.0f;
    uint64_t* block = out.bits.data() + (r / kLanes) * out.words * kLanes + r % kLanes;
    for (int64_t c = 0; c < cols; ++c) {
      if (std::abs(row[c]) != alpha) return false;
      block[(c / 64) * kLanes] |= uint64_t{std::signbit(row[c])} << (c % 64);
    }
    out.scale[static_cast<size_t>(r)] = alpha;
  }
  return true;
}

bool pack_plus_minus_one(const float* x, int64_t rows, int64_t cols, std::vector<uint64_t>& bits) {
  const int64_t words = words_for(cols);
  bits.assign(static_cast<size_t>(rows * words), 0);
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * cols;
    for (int64_t k = 0; k < words; ++k) {
      const int64_t begin = k * 64, count = std::min<int64_t>(64, cols - begin);
      // No early exit inside the word, so the loop vectorizes; the check is per word.
      uint64_t word = 0;
      bool plus_minus_one = true;
      for (int64_t i = 0; i < count; ++i) {
        const float v = row[begin + i];
        plus_minus_one &= std::abs(v) == 1.0f;
        word |= uint64_t{std::bit_cast<uint32_t>(v) >> 31} << i;
      }
      if (!plus_minus_one) return false;
      bits[static_cast<size_t>(r * words + k)] = word;
    }
  }
  return true;
}

void xnor_gemm(XnorPath path, const uint64_t* x_bits, int64_t rows, const PackedBinaryRows& w,
               const float* bias, int64_t block_begin, int64_t block_end, float* y, int64_t ldy) {
  switch (path) {
    case XnorPath::Avx512: return xnor_avx512(x_bits, rows, w, bias, block_begin, block_end, y, ldy);
    case XnorPath::Avx2: return xnor_avx2(x_bits, rows, w, bias, block_begin, block_end, y, ldy);
    case XnorPath::Portable: return xnor_portable(x_bits, rows, w, bias, block_begin, block_end, y, ldy);
  }
}

bool BinaryLinear::forward(const Parameter& weight, const Tensor& x, const float* bias, Tensor& y) {
  if (!weight.quantized()) return false;
  const uint64_t version = weight.effective_version();
  if (version != version_) {
    const Tensor& w = weight.effective();
    binary_ = w.rank() == 2 && pack_binary_rows(w.data(), w.dim(0), w.dim(1), packed_);
    version_ = version;
  }
  if (!binary_ || x.rank() != 2 || x.dim(1) != packed_.cols) return false;
  const int64_t n = x.dim(0);
  if (!pack_plus_minus_one(x.data(), n, packed_.cols, x_bits_)) return false;
  const XnorPath path = best_xnor_path();
  const int64_t blocks = packed_.blocks();
  // A popcount does 64 multiply-adds: the team pays off from a sixty-fourth of the float size.
  const bool parallel = n * packed_.words * packed_.rows * 64 >= kParallelMacs * 64;
#pragma omp parallel num_threads(num_threads()) if (parallel)
  {
    const auto [b0, b1] = thread_range(blocks, omp_get_thread_num(), omp_get_num_threads());
    if (b1 > b0) xnor_gemm(path, x_bits_.data(), n, packed_, bias, b0, b1, y.data(), packed_.rows);
  }
  return true;
}

}  // namespace shrink::kernels
