#pragma once
// Linear's sparse inference path: a pruned weight whose density is at or below a threshold is
// compressed (sparse_kernels.hpp) once, recompressed when the weight changes
// (Parameter::effective_version), and multiplied by the sparse kernels, split across the
// project's OpenMP threads. Training never comes here: it keeps the dense kernels
// and the masks. The SHRINK_SPARSE environment variable turns it off to compare.
#include "sparse_kernels.hpp"
#include "sparse_layers.hpp"
#include "shrink/core/tensor.hpp"
#include "shrink/nn/parameter.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace shrink::kernels {

// Batches of at most this many samples run the slices kernel, larger ones the broadcast kernel.
inline constexpr int64_t kSparseSlicesBatch = 2;

// The densities (non-zeros / elements) at or below which a Linear weight runs sparse, one per
// kernel: a little on the safe side of where each beat OpenBLAS's dense product on
// LeNet-300-100's shapes, on one thread (bench/sparse_bench, docs/benchmarks.md). The slices
// kernel passes it at about 50% density with AVX-512 and 35% with AVX2 (its steps stream about
// 5 bytes per non-zero where the dense product streams 4 per element); the broadcast kernel at
// batch 256 at 22-26%.
inline constexpr double kSparseSlicesDensity = 0.3;
inline constexpr double kSparseBroadcastDensity = 0.2;

// Whether a Linear weight with these counts runs on the sparse kernels for a batch of `batch`
// samples (what inspect reports, for batch 1 and for larger batches).
bool runs_sparse(int64_t nonzeros, int64_t elements, int64_t batch);

// A weight in both forms: rows for the broadcast kernel, slices for the slices kernel.
struct SparseWeight {
  SparseRows rows;
  SparseSlices slices;
};
SparseWeight compress_weight(const SparseKernels& kernels, const float* dense, int64_t rows, int64_t cols);

// Per-thread scratch of sparse_linear: each thread's transposed input and output.
using SparseScratch = std::vector<std::vector<float>>;

// y = x W^T + b for x [N, w.cols] on `kernels` (the ones w was compressed for), split across
// num_threads() threads: batches of at most kSparseSlicesBatch samples on the slices kernel
// (threads own slices of equal step counts), larger ones transposed onto the broadcast kernel
// (threads own samples, or output rows when the batch is small). bias may be null.
void sparse_linear(const SparseKernels& kernels, const SparseWeight& w, const Tensor& x,
                   const float* bias, Tensor& y, SparseScratch& scratch);

class SparseLinear {
 public:
  // y = x W^T + b on the sparse kernels, returning true, when the weight runs sparse at x's
  // batch size and x is [N, in_features]; otherwise returns false and touches nothing.
  bool forward(const Parameter& weight, const Tensor& x, const float* bias, Tensor& y);

 private:
  SparseWeightCache<SparseWeight> cache_;
  SparseScratch scratch_;
};

}  // namespace shrink::kernels
