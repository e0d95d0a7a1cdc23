#include "nn/kernels/conv_kernels.hpp"

#include "shrink/core/error.hpp"

namespace shrink::kernels {

// One table per compiled instruction set (isa/*.cpp).
extern const ConvKernels kPortableConvKernels, kAvx2ConvKernels, kAvx512ConvKernels;

const ConvKernels& conv_kernels(Isa isa) {
  return kernels_for(isa, kPortableConvKernels, SHRINK_AVX2_TABLE(kAvx2ConvKernels),
                     SHRINK_AVX512_TABLE(kAvx512ConvKernels));
}

const ConvKernels& conv_kernels() {
  static const ConvKernels& best = conv_kernels(best_isa());
  return best;
}

void pack_plane_weights(const float* weights, int64_t channels, int64_t tap_count,
                        int plane_rows, float* packed) {
  const int64_t blocks = (channels + plane_rows - 1) / plane_rows;
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t c0 = channels * b / blocks, c1 = channels * (b + 1) / blocks;
    for (int64_t k = 0; k < tap_count; ++k)
      for (int64_t c = c0; c < c1; ++c) *packed++ = weights[c * tap_count + k];
  }
}

}  // namespace shrink::kernels
