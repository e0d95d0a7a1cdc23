#include "nn/kernels/sparse_kernels.hpp"

#include "shrink/core/error.hpp"

#include <limits>

namespace shrink::kernels {

// One table per compiled instruction set (isa/*.cpp).
extern const SparseKernels kPortableSparseKernels, kAvx2SparseKernels, kAvx512SparseKernels;

SparseRows compress_rows(const float* dense, int64_t rows, int64_t cols) {
  SparseRows s;
  s.rows = rows;
  s.cols = cols;
  int64_t nonzeros = 0;
  for (int64_t i = 0; i < rows * cols; ++i) nonzeros += dense[i] != 0.0f;
  // The kernels index with 32-bit offsets (a gather takes 32-bit lanes).
  require(nonzeros <= std::numeric_limits<int32_t>::max() &&
              cols <= std::numeric_limits<int32_t>::max(),
          "a sparse weight needs fewer than 2^31 non-zeros and columns");
  s.start.reserve(static_cast<size_t>(rows + 1));
  s.index.reserve(static_cast<size_t>(nonzeros));
  s.value.reserve(static_cast<size_t>(nonzeros));
  s.start.push_back(0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const float v = dense[r * cols + c];
      if (v == 0.0f) continue;
      s.index.push_back(static_cast<int32_t>(c));
      s.value.push_back(v);
    }
    s.start.push_back(static_cast<int32_t>(s.value.size()));
  }
  return s;
}

const SparseKernels& sparse_kernels(Isa isa) {
  return kernels_for(isa, kPortableSparseKernels, SHRINK_AVX2_TABLE(kAvx2SparseKernels),
                     SHRINK_AVX512_TABLE(kAvx512SparseKernels));
}

const SparseKernels& sparse_kernels() {
  static const SparseKernels& best = sparse_kernels(best_isa());
  return best;
}

}  // namespace shrink::kernels
