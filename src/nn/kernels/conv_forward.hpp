#pragma once
// How Conv2d's forward pass runs one sample: the method picked for its shape, the input layout
// the method reads, and the weights packed for it.
//
//   plane      any group with several input channels (conv_kernels.hpp), on the input's
//              zero-padded planes split by stride phase; 1x1 stride-1 convolutions read the
//              input as it is and write the output directly, one GEMM over the plane.
//   depthwise  one input channel per group (MobileNet's depthwise layers).
//   gemm       im2col + OpenBLAS, for groups whose weights are too large for the plane
//              kernel's cache blocking.
//
// Every method ends in the epilogue (bias, folded BatchNorm, residual, clamp), inside the kernel
// when it writes the output directly, else in one pass that also drops the plane rows' junk
// columns. The plane and depthwise kernels write the output directly when the planes are as
// wide as the output rows, or when running them row by row (no junk columns) costs no more
// vectors of work than the junk columns and that extra pass.
#include "conv_kernels.hpp"
#include "im2col.hpp"

#include <cstdint>
#include <vector>

namespace shrink::kernels {

class ConvForward {
 public:
  enum class Method { Plane, Depthwise, Gemm };

  // `g` is the whole input (g.channels = every input channel).
  ConvForward(const Conv2dGeometry& g, int64_t out_channels, int64_t groups,
              const ConvKernels& kernels = conv_kernels());

  Method method() const { return method_; }
  // Whether the plane or depthwise kernel runs row by row into the output (else on the grid
  // of the planes' width, or directly when that is the output's width).
  bool by_rows() const { return by_rows_; }
  static const char* method_name(Method method);

  // Packs OIHW weights [out_channels, channels / groups, kh, kw]; again whenever they change.
  void pack_weights(const float* weights);

  // Floats of per-thread scratch `run` needs.
  int64_t scratch_floats() const;

  // y[out_channels, oh * ow] for one sample image[channels, height, width], through the
  // epilogue (per output channel; its residual, if any, is this sample's [out_channels, oh * ow]).
  void run(const float* image, const Epilogue& epilogue, float* scratch, float* y) const;

 private:
  // Fills `planes` with the zero-padded, phase-split planes of `channels` input channels.
  void split_planes(const float* image, int64_t channels, float* planes) const;
  void run_plane(const float* planes, const Epilogue& epilogue, float* grid, float* y) const;
  void run_depthwise(const float* planes, const Epilogue& epilogue, float* grid, float* y) const;
  void run_gemm(const float* image, const Epilogue& epilogue, float* columns, float* y) const;
  // Row by row (by_rows_): each of the out_h_ rows of out_w_ positions reads the planes at its
  // row and writes the dense output's row.
  template <class Args>
  void set_rows(Args& args) const;
  // Copies `channels` channels of out_h_ rows of out_w_ values, rows grid_row_stride apart,
  // into y through the epilogue (in place when grid == y).
  void finish(const float* grid, int64_t grid_channel_stride, int64_t grid_row_stride,
              const Epilogue& epilogue, int64_t channels, float* y) const;

  Conv2dGeometry g_;
  const ConvKernels& kernels_;
  int64_t out_channels_, groups_, in_per_group_, out_per_group_, taps_per_group_;
  int64_t out_h_, out_w_;
  Method method_ = Method::Plane;
  // The plane layout: every input channel's used stride phases, each plane_h_ x plane_w_.
  bool copy_input_ = false;
  bool by_rows_ = false;           // the kernels run row by row into the output (no grid)
  std::vector<int32_t> phase_of_;  // phase index by (row phase * stride_w + column phase), -1 unused
  int64_t phases_ = 1, plane_h_ = 0, plane_w_ = 0, positions_ = 0;
  std::vector<int32_t> taps_;      // per group: offsets of (channel, kernel row, kernel column)
  std::vector<float> packed_;      // plane: pack_plane_weights per group; else OIHW as given
};

}  // namespace shrink::kernels
