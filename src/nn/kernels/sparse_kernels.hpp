#pragma once
// The sparse kernels of pruned Linear layers, one table per instruction set (isa.hpp), compiled
// from isa/sparse_kernels_impl.hpp for AVX-512, AVX2 + FMA and plain SSE2 like the convolution
// kernels; sparse_kernels() picks the widest one this CPU runs. tests/nn/sparse_kernels_test.cpp
// checks every row this CPU runs against the dense product.
//
// The weight [rows, cols] is kept in compressed sparse rows (CSR) for batches, and in slices of
// rows for one sample (below). Why no blocks: unstructured (magnitude) pruning leaves the
// non-zeros scattered. In LeNet-300-100 pruned to 90%, 23% of the 1x4 blocks of fc1 and 27% of
// its 4x1 blocks hold a non-zero, so a blocked format would do 2.9x and 3.4x the multiply-adds
// of CSR (bench/sparse_block_fill.py, docs/benchmarks.md). Vectors come from the batch instead.
// Two kernels cover the batch sizes:
//   - slices: one sample at a time, for batches of one or two, on the weight re-packed in
//     slices (SparseSlices below): each step multiplies one non-zero of each of kLanes rows by
//     its input, found by an in-register table lookup (a permute) in a window of kTable inputs.
//     CSR with a vector gather of the input per row and a sum across lanes per output ran
//     784->300 at 90% sparsity 1.8x slower on AVX-512 (docs/benchmarks.md).
//   - broadcast: the batch transposed ([cols][batch], so the input row a weight multiplies is
//     contiguous), each non-zero broadcast and multiplied into a register tile of batch columns
//     of its output row; every lane does useful work at any sparsity.
#include "isa.hpp"

#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>
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

// The rows [begin, end) that thread t of nt owns when threads split w's output rows, cut where
// the non-zeros before them are an equal share: a row's cost is its non-zeros.
std::pair<int64_t, int64_t> balanced_rows(const SparseRows& w, int t, int nt);

// Storage on 64-byte boundaries (core/tensor.hpp's CacheAlignedAllocator, which the per-ISA
// kernel sources cannot include: they see only this folder and the standard headers).
template <class T>
struct LineAlignedAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlignment{64};
  LineAlignedAllocator() = default;
  template <class U>
  LineAlignedAllocator(const LineAlignedAllocator<U>&) noexcept {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlignment)); }
  void deallocate(T* p, size_t) noexcept { ::operator delete(p, kAlignment); }
  template <class U>
  bool operator==(const LineAlignedAllocator<U>&) const noexcept { return true; }
};

// The weight [rows, cols] for one sample at a time, in slices of `lanes` consecutive rows (a
// sliced ELLPACK, SELL-C): the columns are cut into windows of `table` inputs, and each slice
// holds, window by window, as many steps as the slice's row with the most non-zeros in that
// window. Step j of a window gives every row of the slice its j-th non-zero there (or a zero
// where the row has fewer): the value and the column as an offset from the window's first
// input (`base`; the last window ends at the last column when cols >= table, so it never reads
// past the input). The rows are taken in order of their non-zero counts, most first (the σ
// sort of SELL-C-σ), so that a slice's rows need similar step counts: in the 90%-sparse
// LeNet-300-100 of docs/benchmarks.md that cuts fc1's steps by 28% and fc2's by 30%, as
// magnitude pruning leaves some rows (and windows) far denser than others. A slice's steps are padded with zero steps to a multiple of four, and the
// offsets of four steps sit side by side, four bytes per lane, loaded as one vector. In
// LeNet-300-100's fc1 at 90% sparsity 41% of the lanes hold a non-zero (slices of 16 rows,
// windows of 32), about 6 bytes per non-zero against CSR's 8, with no gather.
struct SparseSlices {
  int64_t rows = 0, cols = 0;
  int lanes = 0, table = 0;
  std::vector<int32_t> row;      // the output row of each lane of each slice, slice by slice
  std::vector<int32_t> start;    // slices + 1 offsets into steps (multiples of four)
  std::vector<int32_t> base;     // each step's first input
  // Steps / 4 blocks of lanes x 4 bytes: byte j of lane l in block b is the column of lane l's
  // non-zero in step 4b + j, minus the step's base.
  std::vector<uint8_t> offset;
  // steps x lanes: the non-zeros, 0 in padding lanes. Cache-line aligned, as a step's vector
  // is: a load that straddles two lines costs two.
  std::vector<float, LineAlignedAllocator<float>> value;
  int64_t slices() const { return static_cast<int64_t>(start.size()) - 1; }
  int64_t steps() const { return static_cast<int64_t>(base.size()); }
  // The inputs a sample must hold: max(cols, table) (a narrower input is zero-padded first).
  int64_t padded_cols() const { return cols > table ? cols : table; }
};

// A dense row-major [rows, cols] matrix in slices of `lanes` rows and windows of `table`
// (at most 256) columns, as a kernel table wants them (SparseKernels::lanes and ::table).
SparseSlices compress_slices(const float* dense, int64_t rows, int64_t cols, int lanes, int table);

// y[r * ldy + o] = sum_k W[o, k] x[r * ldx + k] + bias[o] for samples r in [0, samples) and the
// outputs o = w->row[i] of the slices' lanes i in [slice_begin * lanes, slice_end * lanes). x holds w->padded_cols() inputs per sample. bias
// may be null.
struct SparseSlicesArgs {
  const SparseSlices* w;
  const float* x;
  int64_t ldx, samples;
  const float* bias;
  int64_t slice_begin, slice_end;
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
  int table;  // inputs per lookup window of the slices kernel
  void (*slices)(const SparseSlicesArgs&);
  void (*broadcast)(const SparseBroadcastArgs&);
};

// The kernels of one instruction set (it must be in runnable_isas()), or the best one.
const SparseKernels& sparse_kernels(Isa isa);
const SparseKernels& sparse_kernels();

}  // namespace shrink::kernels
