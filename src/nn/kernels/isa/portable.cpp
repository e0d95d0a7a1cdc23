// The kernels compiled for baseline x86-64 (SSE2); CMakeLists.txt gives this file its own flags.
#define SHRINK_VEC_PORTABLE
#include "nn/kernels/isa/vec.hpp"
// vec.hpp first: the kernels are written against its V.
#include "nn/kernels/isa/conv_kernels_impl.hpp"
#include "nn/kernels/isa/sparse_kernels_impl.hpp"

namespace shrink::kernels {
extern constinit const ConvKernels kPortableConvKernels = portable::table(Isa::Portable);
extern constinit const SparseKernels kPortableSparseKernels = portable::sparse_table(Isa::Portable);
}  // namespace shrink::kernels
