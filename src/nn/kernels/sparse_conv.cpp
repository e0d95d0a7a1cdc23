#include "nn/kernels/sparse_conv.hpp"

#include "nn/kernels/gemm.hpp"
#include "nn/kernels/parallel.hpp"
#include "shrink/core/threading.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>

namespace shrink::kernels {
namespace {

// What the product reads for one sample:
//   Plane    a 1x1 stride-1 unpadded convolution: the input itself, row k = input channel k;
//   Padded   any other stride-1 convolution: the input's zero-padded planes [C][Hp][Wp] as they
//            are, with each weight column k mapped to the offset of its tap (channel, kernel
//            row, kernel column) in them; output position (i, j) is then grid position
//            i * Wp + j, so each non-zero reads one contiguous run of the planes, and the last
//            (kw - 1) * dilation positions of each grid row are junk the epilogue drops (the
//            dense plane kernel's trick, conv_kernels.hpp). No im2col: in LeNet-5's 20->50 5x5
//            it copied 25 floats per input float and cost more than the sparse product;
//   Columns  a strided one: im2col's column matrix.
enum class Source { Plane, Padded, Columns };

Source source_of(const SparseConvShape& shape) {
  if (shape.pointwise()) return Source::Plane;
  return shape.g.stride_h == 1 && shape.g.stride_w == 1 ? Source::Padded : Source::Columns;
}

struct Plan {
  const SparseKernels& sparse;
  const ConvKernels& conv;
  const SparseConvShape& shape;
  const SparseRows& w;  // columns as weight columns, or (Padded) as offsets into the planes
  const Epilogue& epilogue;
  Source source;
  int64_t plane_h, plane_w;  // the padded planes (Padded)
  int64_t taps, positions;

  int64_t image() const { return shape.g.channels * shape.g.height * shape.g.width; }
  int64_t out() const { return shape.out_channels * positions; }
  int64_t grid_plane() const { return shape.g.out_h() * plane_w; }
  // Floats of the buffer a sample's source needs (Padded: the planes, then the grid).
  int64_t buffer_floats() const {
    if (source == Source::Plane) return 0;
    if (source == Source::Columns) return shape.g.column_rows() * positions;
    return shape.g.channels * plane_h * plane_w + shape.out_channels * grid_plane();
  }

  // Input channels [c0, c1) of sample x's source into buffer (nothing to do for Plane).
  void prepare(const float* x, int64_t c0, int64_t c1, float* buffer) const {
    const Conv2dGeometry& g = shape.g;
    if (source == Source::Columns) {
      Conv2dGeometry part = g;
      part.channels = c1 - c0;
      if (c1 > c0) im2col(part, x + c0 * g.height * g.width, buffer + c0 * g.kernel_h * g.kernel_w * positions);
      return;
    }
    if (source != Source::Padded) return;
    for (int64_t c = c0; c < c1; ++c) {
      float* plane = buffer + c * plane_h * plane_w;
      std::fill(plane, plane + g.pad_h * plane_w, 0.0f);
      conv.pad_rows({x + c * g.height * g.width, g.width, plane + g.pad_h * plane_w, plane_w, g.height,
                     g.width, g.pad_w, g.pad_w});
      std::fill(plane + (g.pad_h + g.height) * plane_w, plane + plane_h * plane_w, 0.0f);
    }
  }

  // One sample's output rows [o0, o1) (across the groups they span) from its source, through
  // the epilogue. Plane and Columns write y and add the bias in the product unless a scale must
  // come first; Padded writes the grid, and the epilogue moves it to y.
  void product(const float* x, float* buffer, const float* residual, int64_t o0, int64_t o1,
               float* y) const {
    const int64_t per_group = shape.out_channels / shape.groups;
    const bool padded = source == Source::Padded;
    const float* input = source == Source::Plane ? x : buffer;
    const int64_t group_floats = padded ? shape.g.channels / shape.groups * plane_h * plane_w : taps * positions;
    float* target = padded ? buffer + shape.g.channels * plane_h * plane_w : y;
    const int64_t ld = padded ? grid_plane() : positions;
    // Padded: grid positions up to the last row's last output, so no read passes the planes.
    const int64_t width = padded ? (shape.g.out_h() - 1) * plane_w + shape.g.out_w() : positions;
    const float* bias = padded || epilogue.scale ? nullptr : epilogue.shift;
    for (int64_t group = o0 / per_group; group * per_group < o1; ++group) {
      const int64_t r0 = std::max(o0, group * per_group), r1 = std::min(o1, (group + 1) * per_group);
      sparse.broadcast({&w, input + group * group_floats, padded ? 1 : positions, width, bias, r0, r1,
                        target, ld});
    }
    const bool clamp = std::isfinite(epilogue.lo) || std::isfinite(epilogue.hi);
    if (!padded && !epilogue.scale && !residual && !clamp) return;
    Epilogue rest = epilogue;
    rest.scale = epilogue.scale ? epilogue.scale + o0 : nullptr;
    rest.shift = (padded || epilogue.scale) && epilogue.shift ? epilogue.shift + o0 : nullptr;
    rest.residual = residual ? residual + o0 * positions : nullptr;
    conv.apply_epilogue({target + o0 * ld, ld, padded ? plane_w : shape.g.out_w(), y + o0 * positions,
                         o1 - o0, shape.g.out_h(), shape.g.out_w(), rest});
  }

  // Samples [s0, s1) on this thread, with its own buffer.
  void samples(const float* x, int64_t s0, int64_t s1, float* y, std::vector<float>& buffer) const {
    buffer.resize(static_cast<size_t>(buffer_floats()));
    for (int64_t s = s0; s < s1; ++s) {
      const float* xs = x + s * image();
      prepare(xs, 0, shape.g.channels, buffer.data());
      product(xs, buffer.data(), epilogue.residual ? epilogue.residual + s * out() : nullptr, 0,
              shape.out_channels, y + s * out());
    }
  }
};

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

bool conv_runs_sparse(int64_t nonzeros, int64_t elements) {
  return elements > 0 && sparse_execution_enabled() &&
         static_cast<double>(nonzeros) <= kSparseConvDensity * static_cast<double>(elements);
}

SparseConvWeight prepare_sparse_conv(const SparseRows& w, const SparseConvShape& shape) {
  SparseConvWeight prepared{shape, w};
  if (source_of(shape) != Source::Padded) return prepared;
  const Conv2dGeometry& g = shape.g;
  const int64_t plane_h = g.height + 2 * g.pad_h, plane_w = g.width + 2 * g.pad_w;
  const int64_t kernel = g.kernel_h * g.kernel_w;
  prepared.rows.cols = g.channels / shape.groups * plane_h * plane_w;
  for (int32_t& index : prepared.rows.index) {
    const int64_t c = index / kernel, a = index % kernel / g.kernel_w, b = index % g.kernel_w;
    index = static_cast<int32_t>((c * plane_h + a * g.dilation_h) * plane_w + b * g.dilation_w);
  }
  return prepared;
}

void sparse_conv(const SparseKernels& sparse, const ConvKernels& conv, const SparseConvWeight& weight,
                 int64_t n, const float* x, const Epilogue& epilogue, float* y, SparseConvScratch& scratch) {
  const SparseConvShape& shape = weight.shape;
  const SparseRows& w = weight.rows;
  const Conv2dGeometry& g = shape.g;
  const Plan plan{sparse, conv, shape, w, epilogue, source_of(shape), g.height + 2 * g.pad_h,
                  g.width + 2 * g.pad_w, shape.taps(), shape.positions()};
  const int threads = std::max(1, num_threads());
  if (scratch.size() < static_cast<size_t>(threads)) scratch.resize(static_cast<size_t>(threads));
  const int64_t macs = n * w.nonzeros() * shape.positions();
  // A small product runs on this thread without entering a parallel region (libgomp builds a
  // team even for one thread, a cost a one-sample layer notices).
  if (threads == 1 || macs < kParallelMacs) {
    plan.samples(x, 0, n, y, scratch[0]);
    return;
  }
  if (n >= threads) {
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num();
      const auto [s0, s1] = thread_range(n, t, omp_get_num_threads());
      plan.samples(x, s0, s1, y, scratch[static_cast<size_t>(t)]);
    }
    return;
  }
  // Fewer samples than threads: every thread on each sample, first on its input channels of
  // the shared source, then on output rows of equal non-zero counts.
  std::vector<float>& buffer = scratch[0];
  buffer.resize(static_cast<size_t>(plan.buffer_floats()));
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const auto [c0, c1] = thread_range(g.channels, t, nt);
    const auto [o0, o1] = balanced_rows(w, t, nt);
    for (int64_t s = 0; s < n; ++s) {
      const float* xs = x + s * plan.image();
      plan.prepare(xs, c0, c1, buffer.data());
#pragma omp barrier
      if (o1 > o0)
        plan.product(xs, buffer.data(), epilogue.residual ? epilogue.residual + s * plan.out() : nullptr,
                     o0, o1, y + s * plan.out());
      // The next sample's source overwrites this one's.
#pragma omp barrier
    }
  }
}

bool SparseConvolution::forward(const Parameter& weight, const SparseConvShape& shape,
                                const ActivationLayouts& layouts, const Tensor& x,
                                const Epilogue& epilogue, Tensor& y) {
  if (!sparse_execution_enabled()) return false;
  cache_.update(weight, [](const Tensor& w, int64_t nonzeros) {
    return w.rank() == 4 && conv_runs_sparse(nonzeros, w.numel())
               ? compress_rows(w.data(), w.dim(0), w.numel() / w.dim(0))
               : SparseRows{};
  });
  const SparseRows& w = cache_.compressed();
  // An empty start: not compressed (the weight runs dense).
  if (w.start.empty() || w.rows != shape.out_channels || w.cols != shape.taps()) return false;
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
  if (prepared_version_ != cache_.version() || !(prepared_.shape == shape)) {
    prepared_ = prepare_sparse_conv(w, shape);
    prepared_version_ = cache_.version();
  }
  sparse_conv(sparse_kernels(), conv_kernels(), prepared_, n, xd, e, yd, scratch_);
  if (layouts.output_channels_last)
    transpose_samples(planar_y_.data(), n, shape.out_channels, p, false, y.data());
  return true;
}

}  // namespace shrink::kernels
