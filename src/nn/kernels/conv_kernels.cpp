#include "nn/kernels/conv_kernels.hpp"

#include "shrink/core/error.hpp"

namespace shrink::kernels {

// One table per compiled instruction set (isa/*.cpp).
extern const ConvKernels kPortableConvKernels;
#ifdef SHRINK_KERNELS_AVX2
extern const ConvKernels kAvx2ConvKernels;
#endif
#ifdef SHRINK_KERNELS_AVX512
extern const ConvKernels kAvx512ConvKernels;
#endif

const ConvKernels& conv_kernels(Isa isa) {
  bool runnable = false;
  for (Isa r : runnable_isas()) runnable = runnable || r == isa;
  require(runnable, std::string("the ") + isa_name(isa) +
                        " kernels were not built or this CPU cannot run them");
  switch (isa) {
#ifdef SHRINK_KERNELS_AVX512
    case Isa::Avx512: return kAvx512ConvKernels;
#endif
#ifdef SHRINK_KERNELS_AVX2
    case Isa::Avx2: return kAvx2ConvKernels;
#endif
    default: return kPortableConvKernels;
  }
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
