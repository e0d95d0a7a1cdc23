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

// What inference should run: the int8 lowering when it applies (int8_inference_model), else
// the fused copy when SHRINK_FUSE allows it and the model has a chain, else nothing (run the
// model itself).
std::optional<Model> inference_model(const Model& model);

}  // namespace shrink
