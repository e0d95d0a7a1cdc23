#pragma once
// Convolution forward without an im2col matrix: a register tile of output pixels x output
// channels accumulates over the kernel taps, reading each tap straight from the (zero-padded)
// input image by precomputed offsets, against weights packed so that one vector load brings the
// same tap of several output channels. This skips writing and re-packing the column matrix,
// which costs as much as the multiply itself on small images such as LeNet's.
#include "im2col.hpp"

#include <Eigen/Core>

#include <cstdint>
#include <vector>

namespace shrink::kernels {

// Everything about one convolution shape that does not depend on the data: the input as the
// kernel reads it (padded), and where each tap and each output pixel start in it.
class DirectConv {
 public:
  // Whether the direct kernel beats im2col + GEMM for `taps` (input channels x kernel taps) and
  // `out_channels` per group, measured at LeNet and VGG shapes (bench/kernels_bench.cpp): with
  // few taps, storing each output tile costs as much as computing it, and channel counts far
  // from a multiple of the vector width waste the padded lanes.
  static bool pays_off(int64_t taps, int64_t out_channels);

  // `g` describes one group: g.channels is the group's input channels.
  DirectConv(const Conv2dGeometry& g, int64_t out_channels);

  // Packs one group's OIHW weights [out_channels, channels * kh * kw]; call again whenever the
  // weights change.
  void pack_weights(const float* weights);

  // Floats of per-thread scratch `run` needs (the padded copy of the image; 0 when unpadded).
  int64_t scratch_floats() const;

  // y[out_channels, oh * ow] = weights * image + bias (bias may be null), for one group of one
  // sample. `image` is [channels, height, width].
  void run(const float* image, const float* bias, float* scratch, float* y) const;

 private:
  const float* padded_image(const float* image, float* scratch) const;

  Conv2dGeometry g_;
  int64_t out_channels_, taps_, pixels_, padded_h_, padded_w_;
  std::vector<int32_t> tap_offsets_, pixel_offsets_;
  std::vector<float, Eigen::aligned_allocator<float>> packed_;
};

}  // namespace shrink::kernels
