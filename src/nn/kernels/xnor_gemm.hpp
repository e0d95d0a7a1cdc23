#pragma once
// The XNOR-popcount GEMM of binary layers (XNOR-Net, Rastegari et al. 2016): when the inputs
// are +-1 and each weight row is +-alpha, a dot product of n elements is
//   alpha * (n - 2 * popcount(x_bits XOR w_bits))
// with one bit per element (1 for a negative value). 64 multiply-adds become one XOR and one
// popcount. Paths: AVX-512 with VPOPCNTDQ, AVX2 (a table of nibble popcounts indexed by the
// weights, one table per input nibble), and portable C++ (std::popcount), chosen at run time by
// what the CPU has; each is tested against the float GEMM.
#include "shrink/core/tensor.hpp"
#include "shrink/nn/parameter.hpp"

#include <cstdint>
#include <vector>

namespace shrink::kernels {

enum class XnorPath { Portable, Avx2, Avx512 };

// The fastest path this CPU runs (within SHRINK_ISA), and whether it runs `path`.
XnorPath best_xnor_path();
bool xnor_path_supported(XnorPath path);
const char* xnor_path_name(XnorPath path);

// Weight rows packed for one path's kernel, in blocks of `lanes` outputs (the last block padded
// with zero rows, whose scale is 0). A row's bits past `cols` are zero.
//  - Portable and AVX-512: `bits`, [blocks][words][8], word k of 8 rows side by side, so one
//    512-bit register holds the same word of 8 outputs.
//  - AVX2: `nibbles`, [blocks][words * 16][32], nibble p (bits 4p..4p+3) of 32 rows side by side,
//    one a byte, so one 256-bit register indexes a 16-entry table for 32 outputs at once.
struct PackedBinaryRows {
  XnorPath path = XnorPath::Portable;
  int64_t rows = 0, cols = 0, words = 0, lanes = 8;
  std::vector<uint64_t> bits;
  std::vector<uint8_t> nibbles;
  std::vector<float> scale;  // alpha of each row, padded to whole blocks with 0
  int64_t blocks() const { return (rows + lanes - 1) / lanes; }
};

// Packs a rows x cols matrix whose every row r is +-scale_r (the effective weight of a binary
// layer) for `path`; false, leaving `out` unspecified, if some row is not of that form.
bool pack_binary_rows(XnorPath path, const float* m, int64_t rows, int64_t cols,
                      PackedBinaryRows& out);

// Packs the signs of rows x cols values that are all exactly +-1 into `bits` ([rows][words],
// 64 values a word, zero-padded) with `path`'s instructions; false as soon as a row holds a
// value that is not +-1.
bool pack_plus_minus_one(XnorPath path, const float* x, int64_t rows, int64_t cols,
                         std::vector<uint64_t>& bits);

// y[r, o] = scale[o] * (cols - 2 popcount(x_r ^ w_o)) + bias[o] for rows [0, rows) of x and the
// weight blocks [block_begin, block_end), by the path `w` was packed for; bias may be null. y has
// leading dimension ldy.
void xnor_gemm(const uint64_t* x_bits, int64_t rows, const PackedBinaryRows& w, const float* bias,
               int64_t block_begin, int64_t block_end, float* y, int64_t ldy);

// What Linear keeps for its binary inference path: the packed weight, redone when the
// effective weight changes. forward() computes y = x W^T + b with the kernel and returns true
// when the weight is binary and x is all +-1; otherwise it returns false and touches nothing.
class BinaryLinear {
 public:
  bool forward(const Parameter& weight, const Tensor& x, const float* bias, Tensor& y);

 private:
  uint64_t version_ = 0;  // the effective_version the packing is for (0: none)
  bool binary_ = false;
  PackedBinaryRows packed_;
  std::vector<uint64_t> x_bits_;
};

}  // namespace shrink::kernels
