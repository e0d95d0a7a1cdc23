#pragma once
// The fp32 ops an inference lowering (nn/fused_execution.hpp) puts in place of a Conv2d or
// Linear and the BatchNorm, residual Add and ReLU/Clip after it. They compute the layer with
// its epilogue, y = clamp(acc * scale + bias + residual, lo, hi) per output channel, in the pass
// that writes the output (nn/kernels/conv_kernels.hpp). They exist only in a lowered model, for
// inference: they are not in the op registry, so no file or graph description names them, and
// their backward is an error (training runs the unfused graph). Their parameters are the
// layer's ("weight", "bias") plus "scale" when a BatchNorm is folded in, so the layer's
// parameters carry over by name.
#include "nn/kernels/onednn_convolution.hpp"
#include "shrink/nn/op.hpp"

#include <limits>
#include <memory>
#include <string>

namespace shrink::ops {

struct LayerEpilogue {
  bool scale = false;     // a per-channel "scale" parameter multiplies the sums (a folded BatchNorm)
  bool residual = false;  // a second input, shaped like the output, is added before the clamp
  float lo = -std::numeric_limits<float>::infinity();  // ReLU: 0; Clip: its bounds
  float hi = std::numeric_limits<float>::infinity();
};

// "FusedConv2d" and "FusedLinear": the layer of `attributes` (a Conv2d's or a Linear's registry
// attributes) with `epilogue`. A FusedLinear takes no residual.
std::unique_ptr<Op> make_fused_conv2d(const nlohmann::json& attributes, const LayerEpilogue& epilogue);
// A FusedConv2d runs on oneDNN (nn/kernels/onednn_convolution.hpp) unless
// SHRINK_ONEDNN_CONV=off; then the lowering may keep the values only such convolutions read
// channels-last. Whether `op` is such a convolution, and telling it which of its tensors are.
using kernels::ActivationLayouts;
bool runs_on_onednn(const Op& op);
// Whether `op` is a Conv2d or FusedConv2d whose inference with `weight` runs on the sparse
// kernels (nn/kernels/sparse_conv.hpp) rather than oneDNN or the dense kernels: the lowering
// keeps its neighbours NCHW, and inspect reports it.
bool conv_runs_sparse(const Op& op, const Parameter& weight);
void set_activation_layouts(Op& op, const ActivationLayouts& layouts);

// MaxPool2d, Concat (along the channels: the lowering checks) and GlobalAvgPool have forms
// that read and write channels-last tensors (nn/ops/channels_last_ops.cpp), "ChannelsLast" +
// the type, for inference only, so the values between oneDNN convolutions need no transposes.
std::unique_ptr<Op> make_channels_last(const Op& op);

std::unique_ptr<Op> make_fused_linear(const nlohmann::json& attributes, const LayerEpilogue& epilogue);

}  // namespace shrink::ops
