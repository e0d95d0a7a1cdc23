// The kernels compiled for -march=x86-64-v4; CMakeLists.txt gives this file its own flags.
#define SHRINK_VEC_AVX512
#include "nn/kernels/isa/vec.hpp"
// vec.hpp first: the kernels are written against its V.
#include "nn/kernels/isa/conv_kernels_impl.hpp"
#include "nn/kernels/isa/sparse_kernels_impl.hpp"

namespace shrink::kernels {
extern constinit const ConvKernels kAvx512ConvKernels = avx512::table(Isa::Avx512);
extern constinit const SparseKernels kAvx512SparseKernels = avx512::sparse_table(Isa::Avx512);
}  // namespace shrink::kernels
