#pragma once
// The AVX2 XNOR-popcount kernel's interface, apart from xnor_gemm.hpp so that the per-ISA file
// compiling it (isa/avx2.cpp, -march=x86-64-v3) includes no Eigen. xnor_gemm.hpp describes the
// weight layout (PackedBinaryRows::nibbles) and the result.
#include <cstdint>

namespace shrink::kernels {

inline constexpr int64_t kXnorNibbleLanes = 32;    // outputs per block of the nibble layout
inline constexpr int64_t kXnorNibblesPerWord = 16;  // nibble steps per 64-bit word

struct XnorNibbleArgs {
  const uint64_t* x_bits;  // rows x words input bits
  int64_t rows, words;
  uint8_t* scratch;        // rows * words * 16 bytes the kernel may write
  const uint8_t* nibbles;  // the packed weight: [blocks][words * 16][32]
  const float* scale;      // per output, padded to whole blocks
  int64_t outputs, cols;
  const float* bias;       // per output, or null
  int64_t block_begin, block_end;
  float* y;
  int64_t ldy;
};

namespace avx2 {
// Defined in isa/avx2.cpp, in builds that compile the AVX2 kernels (SHRINK_KERNELS_AVX2).
void xnor_nibble_gemm(const XnorNibbleArgs& a);
}  // namespace avx2

}  // namespace shrink::kernels
