#include "nn/kernels/sparse_conv.hpp"

#include "nn/kernels/gemm.hpp"
#include "nn/kernels/parallel.hpp"
#include "shrink/core/threading.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>

namespace shrink::kernels {
namespace {

// One sample's output rows [o0, o1) (across the groups they span) from its column matrix, then
// the epilogue over them in place. The product adds the bias unless a scale must come first.
void convolve_rows(const SparseKernels& sparse, const ConvKernels& conv, const SparseRows& w,
                   const SparseConvShape& shape, const float* columns, const Epilogue& epilogue,
                   const float* residual, int64_t o0, int64_t o1, float* y) {
  const int64_t taps = shape.taps(), p = shape.positions();
  const int64_t per_group = shape.out_channels / shape.groups;
  const float* bias = epilogue.scale ? nullptr : epilogue.shift;
  for (int64_t group = o0 / per_group; group * per_group < o1; ++group) {
    const int64_t r0 = std::max(o0, group * per_group), r1 = std::min(o1, (group + 1) * per_group);
    sparse.broadcast({&w, columns + group * taps * p, p, p, bias, r0, r1, y, p});
  }
  const bool clamp = std::isfinite(epilogue.lo) || std::isfinite(epilogue.hi);
  if (!epilogue.scale && !residual && !clamp) return;
  Epilogue rest = epilogue;
  rest.scale = epilogue.scale ? epilogue.scale + o0 : nullptr;
  rest.shift = epilogue.scale && epilogue.shift ? epilogue.shift + o0 : nullptr;
  rest.residual = residual ? residual + o0 * p : nullptr;
  float* rows = y + o0 * p;
  conv.apply_epilogue({rows, p, shape.g.out_w(), rows, o1 - o0, shape.g.out_h(), shape.g.out_w(), rest});
}

// Samples [s0, s1) on this thread, each through its own im2col into `buffer`.
void convolve_samples(const SparseKernels& sparse, const ConvKernels& conv, const SparseRows& w,
                      const SparseConvShape& shape, int64_t s0, int64_t s1, const float* x,
                      const Epilogue& epilogue, float* y, std::vector<float>& buffer) {
  const Conv2dGeometry& g = shape.g;
  const int64_t image = g.channels * g.height * g.width;
  const int64_t out = shape.out_channels * shape.positions();
  if (!shape.pointwise()) buffer.resize(static_cast<size_t>(g.column_rows() * g.column_cols()));
  for (int64_t s = s0; s < s1; ++s) {
    const float* columns = x + s * image;
    if (!shape.pointwise()) {
      im2col(g, columns, buffer.data());
      columns = buffer.data();
    }
    convolve_rows(sparse, conv, w, shape, columns, epilogue,
                  epilogue.residual ? epilogue.residual + s * out : nullptr, 0, shape.out_channels,
                  y + s * out);
  }
}

// Per sample [P][C] (channels-last) to [C][P] (planar), or back with `to_planar` false.
void transpose_samples(const float* in, int64_t n, int64_t channels, int64_t positions,
                       bool to_planar, float* out) {
  const int64_t sample = channels * positions;
  for (int64_t s = 0; s < n; ++s) {
    if (to_planar)
      transpose(positions, channels, in + s * sample, channels, out + s * sample, positions);
    else
      transpose(channels, positions, in + s * sample, positions, out + s * sample, channels);
  }
}

}  // namespace

bool conv_runs_sparse(int64_t nonzeros, int64_t elements, const SparseConvShape& shape) {
  (void)shape;
  return elements > 0 && sparse_execution_enabled() &&
         static_cast<double>(nonzeros) <= kSparseConvDensity * static_cast<double>(elements);
}

std::string conv_threshold_summary() {
  return "at most " + std::to_string(static_cast<int>(100.0 * kSparseConvDensity + 0.5)) + "% dense";
}

void sparse_conv(const SparseKernels& sparse, const ConvKernels& conv, const SparseRows& w,
                 const SparseConvShape& shape, int64_t n, const float* x, const Epilogue& epilogue,
                 float* y, SparseConvScratch& scratch) {
  const int threads = std::max(1, num_threads());
  if (scratch.size() < static_cast<size_t>(threads)) scratch.resize(static_cast<size_t>(threads));
  const int64_t macs = n * w.nonzeros() * shape.positions();
  // A small product runs on this thread without entering a parallel region (libgomp builds a
  // team even for one thread, a cost a one-sample layer notices).
  if (threads == 1 || macs < kParallelMacs) {
    convolve_samples(sparse, conv, w, shape, 0, n, x, epilogue, y, scratch[0]);
    return;
  }
  if (n >= threads) {
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num();
      const auto [s0, s1] = thread_range(n, t, omp_get_num_threads());
      convolve_samples(sparse, conv, w, shape, s0, s1, x, epilogue, y, scratch[static_cast<size_t>(t)]);
    }
    return;
  }
  // Fewer samples than threads: every thread on each sample, first on its input channels'
  // rows of the shared column matrix, then on output rows of equal non-zero counts.
  const Conv2dGeometry& g = shape.g;
  const int64_t plane = g.height * g.width, image = g.channels * plane;
  const int64_t p = shape.positions(), out = shape.out_channels * p;
  std::vector<float>& columns = scratch[0];
  if (!shape.pointwise()) columns.resize(static_cast<size_t>(g.column_rows() * p));
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const auto [c0, c1] = thread_range(g.channels, t, nt);
    const auto [o0, o1] = balanced_rows(w, t, nt);
    Conv2dGeometry part = g;
    part.channels = c1 - c0;
    for (int64_t s = 0; s < n; ++s) {
      const float* cols = x + s * image;
      if (!shape.pointwise()) {
        if (c1 > c0) im2col(part, cols + c0 * plane, columns.data() + c0 * g.kernel_h * g.kernel_w * p);
        cols = columns.data();
#pragma omp barrier
      }
      if (o1 > o0)
        convolve_rows(sparse, conv, w, shape, cols, epilogue,
                      epilogue.residual ? epilogue.residual + s * out : nullptr, o0, o1, y + s * out);
      // The next sample's im2col overwrites the columns this one reads.
#pragma omp barrier
    }
  }
}

bool SparseConvolution::forward(const Parameter& weight, const SparseConvShape& shape,
                                const ActivationLayouts& layouts, const Tensor& x,
                                const Epilogue& epilogue, Tensor& y) {
  if (!sparse_execution_enabled()) return false;
  cache_.update(weight, [](const Tensor& w, int64_t nonzeros) {
    // Compressed when some shape runs sparse.
    const bool any = w.rank() == 4 && static_cast<double>(nonzeros) <=
                                          kSparseConvDensity * static_cast<double>(w.numel());
    return any ? compress_rows(w.data(), w.dim(0), w.numel() / w.dim(0)) : SparseRows{};
  });
  const SparseRows& w = cache_.compressed();
  // An empty start: not compressed (no shape runs this weight sparse).
  if (w.start.empty() || w.rows != shape.out_channels || w.cols != shape.taps() ||
      !conv_runs_sparse(cache_.nonzeros(), cache_.elements(), shape))
    return false;
  const int64_t n = x.dim(0), channels = shape.g.channels, p = shape.positions();
  const float* xd = x.data();
  if (layouts.input_channels_last) {
    planar_x_.resize(static_cast<size_t>(x.numel()));
    transpose_samples(x.data(), n, channels, shape.g.height * shape.g.width, true, planar_x_.data());
    xd = planar_x_.data();
  }
  Epilogue e = epilogue;
  if (e.residual && layouts.residual_channels_last) {
    planar_residual_.resize(static_cast<size_t>(y.numel()));
    transpose_samples(e.residual, n, shape.out_channels, p, true, planar_residual_.data());
    e.residual = planar_residual_.data();
  }
  if (layouts.output_channels_last) planar_y_.resize(static_cast<size_t>(y.numel()));
  float* yd = layouts.output_channels_last ? planar_y_.data() : y.data();
  sparse_conv(sparse_kernels(), conv_kernels(), w, shape, n, xd, e, yd, scratch_);
  if (layouts.output_channels_last)
    transpose_samples(planar_y_.data(), n, shape.out_channels, p, false, y.data());
  return true;
}

}  // namespace shrink::kernels
