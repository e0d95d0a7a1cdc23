#pragma once
// Conv2d's sparse inference path (Conv2d and FusedConv2d, nn/ops/conv2d.cpp): a pruned weight
// [O, C/groups, kh, kw] read as the matrix [O, C/groups*kh*kw] is compressed into rows
// (sparse_kernels.hpp) and each sample's convolution is one sparse product per group:
//
//   y[o, p] = sum_k W[o, k] columns[k, p] + bias[o]
//
// where columns[C*kh*kw, oh*ow] is the sample's im2col (im2col.hpp; a 1x1 stride-1 unpadded
// convolution reads its input plane as it is). That is the broadcast kernel with the columns as
// its transposed input: each non-zero is broadcast over a run of output positions, and it writes
// the NCHW output plane directly. A stride-1 convolution skips im2col: the non-zeros read the
// zero-padded input planes at their taps' offsets, over an output grid as wide as the planes
// (sparse_conv.cpp). The folded BatchNorm's scale, the residual and the clamp then run as the
// dense kernels' epilogue over the plane (conv_kernels.hpp's apply_epilogue), so results equal
// the dense convolution's up to float rounding. Threads take samples, or, for fewer samples
// than threads, the input channels of im2col or the padding and then output rows of equal
// non-zero counts. The compressed weight is cached and redone when the weight changes
// (sparse_layers.hpp); training never comes here, and SHRINK_SPARSE=off turns it off.
#include "conv_kernels.hpp"
#include "im2col.hpp"
#include "onednn_convolution.hpp"
#include "sparse_kernels.hpp"
#include "sparse_layers.hpp"

#include <cstdint>
#include <vector>

namespace shrink::kernels {

// A convolution's shape: the whole input (g.channels = every input channel) and its outputs.
struct SparseConvShape {
  Conv2dGeometry g;
  int64_t out_channels = 1, groups = 1;

  int64_t taps() const { return g.channels / groups * g.kernel_h * g.kernel_w; }  // columns of W
  int64_t positions() const { return g.out_h() * g.out_w(); }
  // The input plane already is the column matrix.
  bool pointwise() const {
    return g.kernel_h == 1 && g.kernel_w == 1 && g.stride_h == 1 && g.stride_w == 1 &&
           g.pad_h == 0 && g.pad_w == 0;
  }
  bool operator==(const SparseConvShape&) const = default;
};

// The weight as sparse_conv runs it at `shape`: the compressed rows of [O, C/groups*kh*kw],
// their columns kept (1x1 and strided convolutions) or mapped to the offsets of their taps in
// the zero-padded input planes (other stride-1 ones). Made once per weight and shape: the
// mapping costs two divisions per non-zero.
struct SparseConvWeight {
  SparseConvShape shape;
  SparseRows rows;
};
SparseConvWeight prepare_sparse_conv(const SparseRows& w, const SparseConvShape& shape);

// The density (non-zeros / elements) at or below which a convolution weight runs sparse: a
// little on the safe side of where the sparse convolution beat oneDNN's dense one, on one
// thread (bench/sparse_bench, docs/benchmarks.md). On LeNet-5's 20->50 5x5 on 12x12 and a 3x3
// 32->32 on 14x14 they break even at 38-40% density with AVX-512 and 44-50% with AVX2, at
// batch 1 and 256 alike (the sparse product runs per sample); LeNet-5's 1->20 5x5, where
// oneDNN reaches only 30-40 GFLOP/s, runs sparse faster even at 50%. So one threshold, not one
// per shape: at 30% every measured layer runs sparse 1.2-3.4x faster.
inline constexpr double kSparseConvDensity = 0.3;

// Whether a convolution weight with these counts runs sparse (what inspect reports and what
// the inference lowering keeps in NCHW): at most kSparseConvDensity dense, unless
// SHRINK_SPARSE=off.
bool conv_runs_sparse(int64_t nonzeros, int64_t elements);

// Per-thread scratch of sparse_conv: each thread's column matrix, or padded planes and output grid.
using SparseConvScratch = std::vector<std::vector<float>>;

// y[N, O, oh, ow] from x[N, C, H, W] with the weight w (prepared for its shape), through
// `epilogue` (its shift is the bias; its residual, if any, is the whole batch's, laid out like
// y) on `conv`'s apply_epilogue, split across num_threads() threads.
void sparse_conv(const SparseKernels& sparse, const ConvKernels& conv, const SparseConvWeight& w,
                 int64_t n, const float* x, const Epilogue& epilogue, float* y, SparseConvScratch& scratch);

class SparseConvolution {
 public:
  // y = conv(x, weight) through `epilogue` (as sparse_conv, residual for the whole batch) on the
  // sparse kernels, returning true, when the weight runs sparse at x's shape; otherwise returns
  // false and touches nothing. x, the residual and y are in `layouts` (a oneDNN convolution's
  // neighbours may hand it channels-last tensors): channels-last ones are transposed on the way
  // in and out. y is already sized.
  bool forward(const Parameter& weight, const SparseConvShape& shape, const ActivationLayouts& layouts,
               const Tensor& x, const Epilogue& epilogue, Tensor& y);

 private:
  SparseWeightCache<SparseRows> cache_;
  SparseConvWeight prepared_;          // cache_'s rows for the last shape
  uint64_t prepared_version_ = 0;      // the cache_.version() prepared_ was made from
  SparseConvScratch scratch_;
  // NCHW copies of channels-last tensors: input, residual, output.
  std::vector<float> planar_x_, planar_residual_, planar_y_;
};

}  // namespace shrink::kernels
