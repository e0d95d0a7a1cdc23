#include "nn/kernels/conv_forward.hpp"

#include "nn/kernels/gemm.hpp"
#include "shrink/core/error.hpp"

#include <algorithm>
#include <limits>

namespace shrink::kernels {
namespace {

// Above this many weight floats per group (K x O) the plane kernel's packed weights no longer
// fit in the L2 cache beside the input planes and OpenBLAS's blocked GEMM wins.
constexpr int64_t kPlaneMaxWeights = int64_t{1} << 17;

// Floats after the planes that the row-by-row kernels' whole-vector loads may read past the
// last row (at most one vector of any instruction set); kept zero.
constexpr int64_t kSlack = 16;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The epilogue of channels [first, ...) of an output whose channels are `plane` floats apart.
Epilogue channel_slice(const Epilogue& e, int64_t first, int64_t plane) {
  Epilogue slice = e;
  if (e.scale) slice.scale = e.scale + first;
  if (e.shift) slice.shift = e.shift + first;
  if (e.residual) slice.residual = e.residual + first * plane;
  return slice;
}

bool is_identity(const Epilogue& e) {
  return !e.scale && !e.shift && !e.residual && e.lo == -std::numeric_limits<float>::infinity() &&
         e.hi == std::numeric_limits<float>::infinity();
}

}  // namespace

const char* ConvForward::method_name(Method method) {
  switch (method) {
    case Method::Plane: return "plane";
    case Method::Depthwise: return "depthwise";
    case Method::Gemm: return "gemm";
  }
  return "unknown";
}

ConvForward::ConvForward(const Conv2dGeometry& g, int64_t out_channels, int64_t groups,
                         const ConvKernels& kernels)
    : g_(g), kernels_(kernels), out_channels_(out_channels), groups_(groups),
      in_per_group_(g.channels / groups), out_per_group_(out_channels / groups),
      taps_per_group_(g.channels / groups * g.kernel_h * g.kernel_w), out_h_(g.out_h()),
      out_w_(g.out_w()) {
  require(groups > 0 && g.channels % groups == 0 && out_channels % groups == 0,
          "ConvForward: channels must divide into the groups");
  require(out_h_ > 0 && out_w_ > 0, "ConvForward: the kernel is larger than the padded input");
  if (in_per_group_ == 1 && groups > 1)
    method_ = Method::Depthwise;
  else if (taps_per_group_ * out_per_group_ > kPlaneMaxWeights)
    method_ = Method::Gemm;
  if (method_ == Method::Gemm) return;

  // Stride phase (a, b) holds the padded input's rows a, a + stride, ... and columns b,
  // b + stride, ...; a tap reads one phase, and consecutive outputs read consecutive floats.
  const int64_t sh = g.stride_h, sw = g.stride_w;
  phase_of_.assign(static_cast<size_t>(sh * sw), -1);
  for (int64_t i = 0; i < g.kernel_h; ++i)
    for (int64_t j = 0; j < g.kernel_w; ++j) {
      phase_of_[static_cast<size_t>((i * g.dilation_h % sh) * sw + j * g.dilation_w % sw)] = 0;
    }
  // Number the used phases in order.
  phases_ = 0;
  for (int32_t& phase : phase_of_)
    if (phase >= 0) phase = static_cast<int32_t>(phases_++);
  plane_h_ = ceil_div(g.height + 2 * g.pad_h, sh);
  plane_w_ = ceil_div(g.width + 2 * g.pad_w, sw);
  copy_input_ = g.pad_h > 0 || g.pad_w > 0 || sh > 1 || sw > 1;
  positions_ = (out_h_ - 1) * plane_w_ + out_w_;
  if (plane_w_ != out_w_ && copy_input_) {
    // Vectors of work per output channel: row by row, every row ends in a partial vector; on
    // the grid, the junk columns are computed and then a pass drops them (about 12 taps' worth
    // per vector in perf profiles of resnet-small). Row by row reads past the planes (kSlack),
    // so only on planes of our own.
    const int64_t lanes = kernels_.lanes, taps = in_per_group_ * g.kernel_h * g.kernel_w;
    const int64_t row_vectors = out_h_ * ceil_div(out_w_, lanes);
    by_rows_ = row_vectors * taps <= ceil_div(positions_, lanes) * taps + row_vectors * 12;
  }
  const int64_t channel_floats = phases_ * plane_h_ * plane_w_;
  require(in_per_group_ * channel_floats < std::numeric_limits<int32_t>::max(),
          "Conv2d: an input of " + std::to_string(g.channels * channel_floats) +
              " padded values is too large for the convolution kernels");
  for (int64_t c = 0; c < in_per_group_; ++c)
    for (int64_t i = 0; i < g.kernel_h; ++i)
      for (int64_t j = 0; j < g.kernel_w; ++j) {
        const int64_t row = i * g.dilation_h, col = j * g.dilation_w;
        const int64_t phase = phase_of_[static_cast<size_t>((row % sh) * sw + col % sw)];
        taps_.push_back(static_cast<int32_t>(
            c * channel_floats + (phase * plane_h_ + row / sh) * plane_w_ + col / sw));
      }
}

void ConvForward::pack_weights(const float* weights) {
  const int64_t per_group = out_per_group_ * taps_per_group_;
  packed_.resize(static_cast<size_t>(groups_ * per_group));
  if (method_ == Method::Plane) {
    for (int64_t grp = 0; grp < groups_; ++grp)
      pack_plane_weights(weights + grp * per_group, out_per_group_, taps_per_group_,
                         kernels_.plane_rows, packed_.data() + grp * per_group);
  } else {
    std::copy(weights, weights + groups_ * per_group, packed_.begin());
  }
}

int64_t ConvForward::scratch_floats() const {
  if (method_ == Method::Gemm) return g_.column_rows() / groups_ * out_h_ * out_w_;
  const int64_t planes = copy_input_ ? g_.channels * phases_ * plane_h_ * plane_w_ + kSlack : 0;
  const bool direct = plane_w_ == out_w_ || by_rows_;
  const int64_t grid = direct ? 0 : (method_ == Method::Depthwise ? out_channels_ : out_per_group_) *
                                        positions_;
  return planes + grid;
}

void ConvForward::split_planes(const float* image, int64_t channels, float* planes) const {
  const int64_t sh = g_.stride_h, sw = g_.stride_w;
  if (sh == 1 && sw == 1) {
    // One phase: zero rows above and below the image, its rows padded by the vector kernel.
    const int64_t top = std::min(g_.pad_h, plane_h_);
    const int64_t inside = std::clamp<int64_t>(plane_h_ - top, 0, g_.height);
    const int64_t left = std::min(g_.pad_w, plane_w_);
    const int64_t width = std::clamp<int64_t>(plane_w_ - left, 0, g_.width);
    for (int64_t c = 0; c < channels; ++c) {
      float* plane = planes + c * plane_h_ * plane_w_;
      std::fill(plane, plane + top * plane_w_, 0.0f);
      PadRowsArgs args{};
      args.source = image + c * g_.height * g_.width;
      args.source_stride = g_.width;
      args.target = plane + top * plane_w_;
      args.target_stride = plane_w_;
      args.rows = inside;
      args.width = width;
      args.left = left;
      args.right = plane_w_ - left - width;
      kernels_.pad_rows(args);
      std::fill(plane + (top + inside) * plane_w_, plane + plane_h_ * plane_w_, 0.0f);
    }
    return;
  }
  // Strided: phase (a, b)'s rows r0..r1 and columns x0..x1 read the image (row r * sh + a -
  // pad_h and column x * sw + b - pad_w inside it), the rest is padding. Bounds per phase, so
  // the rows, a few floats long, pay no test per row or column.
  for (int64_t a = 0; a < sh; ++a)
    for (int64_t b = 0; b < sw; ++b) {
      const int32_t phase = phase_of_[static_cast<size_t>(a * sw + b)];
      if (phase < 0) continue;
      const int64_t r0 = std::min(plane_h_, ceil_div(std::max<int64_t>(g_.pad_h - a, 0), sh));
      const int64_t r1 = std::clamp<int64_t>(ceil_div(g_.height + g_.pad_h - a, sh), r0, plane_h_);
      const int64_t x0 = std::min(plane_w_, ceil_div(std::max<int64_t>(g_.pad_w - b, 0), sw));
      const int64_t x1 = std::clamp<int64_t>(ceil_div(g_.width + g_.pad_w - b, sw), x0, plane_w_);
      for (int64_t c = 0; c < channels; ++c) {
        float* plane = planes + (c * phases_ + phase) * plane_h_ * plane_w_;
        std::fill(plane, plane + r0 * plane_w_, 0.0f);
        for (int64_t r = r0; r < r1; ++r) {
          float* out = plane + r * plane_w_;
          const float* in =
              image + (c * g_.height + r * sh + a - g_.pad_h) * g_.width + x0 * sw + b - g_.pad_w;
          for (int64_t x = 0; x < x0; ++x) out[x] = 0.0f;
          if (sw == 2)  // a constant stride the compiler vectorizes
            for (int64_t x = x0; x < x1; ++x) out[x] = in[(x - x0) * 2];
          else
            for (int64_t x = x0; x < x1; ++x) out[x] = in[(x - x0) * sw];
          for (int64_t x = x1; x < plane_w_; ++x) out[x] = 0.0f;
        }
        std::fill(plane + r1 * plane_w_, plane + plane_h_ * plane_w_, 0.0f);
      }
    }
}

void ConvForward::run(const float* image, const Epilogue& epilogue, float* scratch,
                      float* y) const {
  require(!packed_.empty(), "ConvForward::run needs pack_weights first");
  if (method_ == Method::Gemm) return run_gemm(image, epilogue, scratch, y);
  const float* planes = image;
  float* grid = scratch;
  if (copy_input_) {
    split_planes(image, g_.channels, scratch);
    const int64_t planes_floats = g_.channels * phases_ * plane_h_ * plane_w_;
    std::fill(scratch + planes_floats, scratch + planes_floats + kSlack, 0.0f);
    planes = scratch;
    grid = scratch + planes_floats + kSlack;
  }
  if (method_ == Method::Depthwise)
    run_depthwise(planes, epilogue, grid, y);
  else
    run_plane(planes, epilogue, grid, y);
}

void ConvForward::finish(const float* grid, int64_t grid_channel_stride, int64_t grid_row_stride,
                         const Epilogue& epilogue, int64_t channels, float* y) const {
  if (grid == y && is_identity(epilogue)) return;
  EpilogueArgs args{};
  args.source = grid;
  args.source_channel_stride = grid_channel_stride;
  args.source_row_stride = grid_row_stride;
  args.output = y;
  args.channels = channels;
  args.rows = out_h_;
  args.width = out_w_;
  args.epilogue = epilogue;
  kernels_.apply_epilogue(args);
}

void ConvForward::run_plane(const float* planes, const Epilogue& epilogue, float* grid,
                            float* y) const {
  const int64_t plane = out_h_ * out_w_;
  const bool direct = plane_w_ == out_w_ || by_rows_;
  const int64_t channel_floats = phases_ * plane_h_ * plane_w_;
  for (int64_t grp = 0; grp < groups_; ++grp) {
    const int64_t first = grp * out_per_group_;
    const Epilogue slice = channel_slice(epilogue, first, plane);
    PlaneConvArgs args{};
    args.input = planes + grp * in_per_group_ * channel_floats;
    args.taps = taps_.data();
    args.tap_count = taps_per_group_;
    args.weights = packed_.data() + grp * out_per_group_ * taps_per_group_;
    args.channels = out_per_group_;
    args.positions = positions_;
    args.output = direct ? y + first * plane : grid;
    args.output_stride = direct ? plane : positions_;
    if (direct) args.epilogue = slice;
    set_rows(args);
    kernels_.plane_conv(args);
    if (!direct) finish(grid, positions_, plane_w_, slice, out_per_group_, y + first * plane);
  }
}

void ConvForward::run_depthwise(const float* planes, const Epilogue& epilogue, float* grid,
                                float* y) const {
  const int64_t plane = out_h_ * out_w_;
  const bool direct = plane_w_ == out_w_ || by_rows_;
  const int64_t channel_floats = phases_ * plane_h_ * plane_w_;
  DepthwiseConvArgs args{};
  args.taps = taps_.data();
  args.tap_count = taps_per_group_;
  args.positions = positions_;
  args.output_stride = direct ? plane : positions_;
  set_rows(args);
  // With one output channel per group every channel reads its own planes; with a channel
  // multiplier m the m outputs of a group read the group's one input channel.
  const int64_t calls = out_per_group_ == 1 ? 1 : groups_;
  const int64_t per_call = out_per_group_ == 1 ? out_channels_ : out_per_group_;
  for (int64_t call = 0; call < calls; ++call) {
    const int64_t first = call * per_call;
    args.input = planes + call * channel_floats;
    args.input_stride = out_per_group_ == 1 ? channel_floats : 0;
    args.weights = packed_.data() + first * taps_per_group_;
    args.channels = per_call;
    args.output = direct ? y + first * plane : grid + first * positions_;
    args.epilogue = direct ? channel_slice(epilogue, first, plane) : Epilogue{};
    kernels_.depthwise_conv(args);
  }
  if (!direct) finish(grid, positions_, plane_w_, epilogue, out_channels_, y);
}

template <class Args>
void ConvForward::set_rows(Args& args) const {
  if (!by_rows_) return;
  args.positions = out_w_;
  args.rows = out_h_;
  args.input_row_stride = plane_w_;
  args.output_row_stride = out_w_;
}

void ConvForward::run_gemm(const float* image, const Epilogue& epilogue, float* columns,
                           float* y) const {
  const int64_t pixels = out_h_ * out_w_;
  const bool pointwise = g_.kernel_h == 1 && g_.kernel_w == 1 && g_.stride_h == 1 &&
                         g_.stride_w == 1 && g_.pad_h == 0 && g_.pad_w == 0;
  Conv2dGeometry group = g_;
  group.channels = in_per_group_;
  for (int64_t grp = 0; grp < groups_; ++grp) {
    const float* input = image + grp * in_per_group_ * g_.height * g_.width;
    const float* cols = input;
    if (!pointwise) {
      im2col(group, input, columns);
      cols = columns;
    }
    gemm(false, false, out_per_group_, pixels, taps_per_group_,
         packed_.data() + grp * out_per_group_ * taps_per_group_, taps_per_group_, cols, pixels,
         false, y + grp * out_per_group_ * pixels, pixels);
  }
  finish(y, pixels, out_w_, epilogue, out_channels_, y);
}

}  // namespace shrink::kernels
