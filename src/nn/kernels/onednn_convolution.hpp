#pragma once
// The fp32 inference convolution on oneDNN (nn/kernels/onednn.hpp): a FusedConv2d
// (nn/ops/fused_ops.hpp) runs as one oneDNN convolution primitive, which has JIT kernels for
// AVX-512 and AVX2 tuned for every shape that matters here (1x1, depthwise through groups,
// strided, thin channels) and beat the hand-written ones on real CNNs. The fused epilogue maps
// onto the primitive:
//
//   y = clamp(acc * scale + bias + residual, lo, hi)
//     = clamp(conv(x, W * scale) + bias  [sum post-op: + residual]  [eltwise post-op: clamp])
//
// The folded BatchNorm's scale goes into the weights (one multiply per weight, once), so the
// sums differ from the hand-written kernels' by float rounding only. oneDNN picks its own
// layout for the weights (format_tag::any, reordered once per weight version). The
// activations are channels-last (NHWC): the layout oneDNN's AVX-512 kernels (brgconv) choose
// for themselves and one its AVX2 kernels run as fast as their blocked nChw8c. A value that
// only oneDNN convolutions read stays channels-last between them (its tensor keeps the NCHW
// shape but holds NHWC data: ActivationLayouts); an NCHW input, residual or output is
// reordered at the boundary, the transposes that would otherwise cost about 40% of the time
// of a depthwise-separable net (measured with ONEDNN_VERBOSE=1). The primitive is made once
// per batch size (the last few stay cached) and rebuilt when a parameter changes
// (Parameter::effective_version). Training never runs here: the unfused graph trains on the
// hand-written kernels, which also keep their backward pass.
#include "primitives_by_batch.hpp"
#include "shrink/core/tensor.hpp"
#include "shrink/nn/parameter.hpp"

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace shrink::kernels {

// SHRINK_ONEDNN_CONV: unset, "" or "auto" runs the fused fp32 convolutions on oneDNN; "off"
// runs them on the hand-written kernels (to compare). Any other value is a bad-input Error.
// Read once.
bool onednn_convolutions_enabled();

// SHRINK_WINOGRAD: unset, "" or "auto" lets a wide 3x3 stride-1 convolution (channels in
// multiples of 16, in x out channels x output pixels >= 32 x 64 x 14 x 14) run Winograd's
// F(4x4, 3x3) on AVX-512, as oneDNN's jit_wino_4x3 kernel, on blocked tensors reordered from and
// to the caller's inside the layer; its sums differ from the direct ones by about 1e-6 of the
// largest output. "off" keeps the direct convolution. Any other value is a bad-input Error.
// Read once.
bool winograd_enabled();

// A Conv2d's shape: kernel, stride, padding (both sides), dilation, groups.
struct Fp32ConvolutionGeometry {
  int64_t out_channels = 1, groups = 1;
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;
};

// What follows the sums (nn/ops/fused_ops.hpp's LayerEpilogue).
struct Fp32ConvolutionEpilogue {
  bool residual = false;
  float lo = -std::numeric_limits<float>::infinity();
  float hi = std::numeric_limits<float>::infinity();
};

// Which of a convolution's tensors hold channels-last data under their NCHW shapes.
struct ActivationLayouts {
  bool input_channels_last = false;
  bool residual_channels_last = false;
  bool output_channels_last = false;
};

class Fp32Convolution {
 public:
  Fp32Convolution(Fp32ConvolutionGeometry geometry, Fp32ConvolutionEpilogue epilogue);
  ~Fp32Convolution();
  Fp32Convolution(Fp32Convolution&&) noexcept;
  Fp32Convolution& operator=(Fp32Convolution&&) noexcept;

  void set_layouts(const ActivationLayouts& layouts);
  const ActivationLayouts& layouts() const { return layouts_; }

  // y [N, O, OH, OW] (already sized) from x [N, C, H, W] and weight [O, C / groups, kh, kw];
  // bias and scale [O] or null; residual shaped like y, or null; each in its layout.
  void forward(const Parameter& weight, const Parameter* bias, const Parameter* scale,
               const Tensor& x, const Tensor* residual, Tensor& y);
  // oneDNN's name of the kernel the last primitive made ("jit:avx512_core"); empty before.
  const std::string& implementation() const { return implementation_; }

 private:
  struct Cached;
  Fp32ConvolutionGeometry geometry_;
  Fp32ConvolutionEpilogue epilogue_;
  ActivationLayouts layouts_;
  uint64_t weight_version_ = 0, bias_version_ = 0, scale_version_ = 0;
  std::vector<float> folded_;  // the weights times the scale, OIHW
  PrimitivesByBatch<Cached> cache_;
  std::string implementation_;
};

}  // namespace shrink::kernels
