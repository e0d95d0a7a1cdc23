#pragma once
// The sparse kernels of pruned Linear layers, one table per instruction set (isa.hpp), compiled
// from isa/sparse_kernels_impl.hpp for AVX-512, AVX2 + FMA and plain SSE2 like the convolution
// kernels; sparse_kernels() picks the widest one this CPU runs. tests/nn/sparse_kernels_test.cpp
// checks every row this CPU runs against the dense product.
//
// The weight [rows, cols] is kept in compressed sparse rows (CSR): the non-zeros of each output
// row with their column. Why rows and not blocks: unstructured (magnitude) pruning leaves the
// non-zeros scattered. In LeNet-300-100 pruned to 90%, 23% of the 1x4 blocks of fc1 and 27% of
// its 4x1 blocks hold a non-zero, so a blocked format would do 2.9x and 3.4x the multiply-adds
// of CSR (bench/sparse_block_fill.py, docs/benchmarks.md). Vectors come from the batch instead.
// Two kernels cover the batch sizes:
//   - gather: one sample at a time, each output a dot product of the row's values with the
//     input gathered at the row's columns (a vector gather per kLanes non-zeros); for batch 1.
//   - broadcast: the batch transposed ([cols][batch], so the input row a weight multiplies is
//     contiguous), each non-zero broadcast and multiplied into a register tile of batch columns
//     of its output row; every lane does useful work at any sparsity.
#include "isa.hpp"

#include <cstdint>
#include <vector>

namespace shrink::kernels {

struct SparseRows {
  int64_t rows = 0, cols = 0;
  std::vector<int32_t> start;  // rows + 1 offsets into index/value
  std::vector<int32_t> index;  // column of each non-zero
  std::vector<float> value;
  int64_t nonzeros() const { return static_cast<int64_t>(value.size()); }
};

// The non-zeros of a dense row-major [rows, cols] matrix (a -0.0 counts as zero).
SparseRows compress_rows(const float* dense, int64_t rows, int64_t cols);

// y[r * ldy + o] = sum_k W[o, k] x[r * ldx + k] + bias[o] for samples r in [0, samples) and
// outputs o in [row_begin, row_end). bias may be null.
struct SparseGatherArgs {
  const SparseRows* w;
  const float* x;
  int64_t ldx, samples;
  const float* bias;
  int64_t row_begin, row_end;
  float* y;
  int64_t ldy;
};

// yt[o * ldyt + j] = sum_k W[o, k] xt[k * ldxt + j] + bias[o] for columns j in [0, width) and
// outputs o in [row_begin, row_end): the batch transposed on both sides. bias may be null.
struct SparseBroadcastArgs {
  const SparseRows* w;
  const float* xt;
  int64_t ldxt, width;
  const float* bias;
  int64_t row_begin, row_end;
  float* yt;
  int64_t ldyt;
};

struct SparseKernels {
  Isa isa;
  int lanes;  // floats per vector
  void (*gather)(const SparseGatherArgs&);
  void (*broadcast)(const SparseBroadcastArgs&);
};

// The kernels of one instruction set (it must be in runnable_isas()), or the best one.
const SparseKernels& sparse_kernels(Isa isa);
const SparseKernels& sparse_kernels();

}  // namespace shrink::kernels
