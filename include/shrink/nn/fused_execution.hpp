#pragma once
// Fused fp32 execution: the inference lowering of a model that int8 execution
// (nn/int8_execution.hpp) leaves in fp32. Training needs every node of
//
//   Conv2d | Linear [-> BatchNorm] [-> Add(residual), Conv2d only] [-> ReLU | Clip]
//
// as its own op (batch statistics, gradients), but inference runs the chain as one op whose
// kernels write the output once: the BatchNorm's running statistics fold into a per-channel
// scale and shift, the residual and the clamp join them in the convolution kernels' epilogue
// (nn/kernels/conv_kernels.hpp). Lowering rewrites a copy; the model, its file and its ONNX
// export keep every node, and masked or quantized weights keep their state (the kernels read
// the effective weight, and the BatchNorm scales the sums, not the weights).
//
// The fused convolutions run on oneDNN (nn/kernels/onednn_convolution.hpp; SHRINK_ONEDNN_CONV=off:
// the hand-written kernels), and so does every other Conv2d of the copy, as a FusedConv2d with
// an empty epilogue. The values that only those convolutions and the MaxPool2d, Concat and
// GlobalAvgPool between them read stay channels-last (NHWC data under the NCHW shape; the
// pooling and Concat nodes become their channels-last forms), so only the model's input and
// the values other ops read are transposed. forward_in_slices then runs a batch a few samples
// at a time.
#include "shrink/nn/model.hpp"

#include <optional>
#include <string>
#include <vector>

namespace shrink {

// SHRINK_FUSE: unset, "" or "auto" fuses every chain for inference; "off" runs the graph node
// by node (to compare). Any other value is a bad-input Error. Read once.
bool fusion_enabled();

// One chain a lowering runs as one fused op, named after its layer (so the layer's parameters
// keep their names) and placed where the chain's last node was.
struct FusedLayerPlan {
  std::string layer;       // the Conv2d or Linear node
  std::string type;        // its op type
  std::string batch_norm;  // the BatchNorm folded into it, or empty
  std::string add;         // the residual Add, or empty
  std::string residual;    // the Add's other input, which the fused op reads as a second input
  std::string activation;  // the ReLU or Clip clamping its output, or empty
  std::vector<std::string> removed;  // the chain's nodes after the layer, in order
};

// The chains of `model` that fuse (whatever SHRINK_FUSE says), in model order. A chain ends
// where a value has another reader or is the model's output; a layer alone is no chain.
std::vector<FusedLayerPlan> plan_fusion(const Model& model);

// A copy of `model` with every chain of plan_fusion fused. The copy runs inference (forward
// with training = false); it cannot train, be cloned or be saved, since its fused ops exist
// only for running. It gives the model's outputs to float rounding.
Model lower_to_fused(const Model& model);

// SHRINK_SLICES: unset, "" or "auto" lets forward_in_slices split a batch; "off" runs it whole
// (to compare). Any other value is a bad-input Error. Read once.
bool slicing_enabled();

// How many samples an inference model runs at a time: 0 (the whole batch) unless it has
// convolutions on oneDNN and no op that acts across the batch (an imported graph's
// across_batch: its samples mix), whose activations at batch 256 outgrow the core's cache (6-25 MB a
// layer for 28x28 CNNs); then as many as keep the largest layer's output within 512 KiB, so a
// slice's activations stay in the L2 cache from one layer to the next. Measured on the
// PyTorch-exported CNNs: batch 8 runs 1.2-1.9x the samples per CPU-second of batch 256.
int64_t inference_slice(const Model& model);

// Runs `model` on a batch in inference as forward(inputs) does, but depth-first in slices of
// inference_slice(model) samples when the batch is larger (and SHRINK_SLICES allows it): each
// sample's output is the same, whatever the batch. Returns the model's output, or `assembled`
// holding the slices' outputs in order; the model's other values are the last slice's.
const Tensor& forward_in_slices(Model& model, const std::vector<const Tensor*>& inputs,
                                Tensor& assembled);

// What inference should run: the int8 lowering when it applies (int8_inference_model), else
// the fused copy when SHRINK_FUSE allows it and the model has a chain, else nothing (run the
// model itself).
std::optional<Model> inference_model(const Model& model);

}  // namespace shrink
