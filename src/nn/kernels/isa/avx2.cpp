// The kernels compiled for -march=x86-64-v3 (AVX2, FMA); CMakeLists.txt gives this file its own flags.
#define SHRINK_VEC_AVX2
#include "nn/kernels/isa/vec.hpp"
// vec.hpp first: the kernels are written against its V.
#include "nn/kernels/isa/conv_kernels_impl.hpp"
#include "nn/kernels/isa/sparse_kernels_impl.hpp"
#include "nn/kernels/isa/xnor_avx2_impl.hpp"

namespace shrink::kernels {
extern constinit const ConvKernels kAvx2ConvKernels = avx2::table(Isa::Avx2);
extern constinit const SparseKernels kAvx2SparseKernels = avx2::sparse_table(Isa::Avx2);
}  // namespace shrink::kernels
