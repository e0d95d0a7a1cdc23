#pragma once
// Int8 execution of a quantized model. quant.int8 (and a QDQ ONNX import) give a graph whose
// QuantizeLinear -> DequantizeLinear pairs run as fake quantization in fp32: what calibration
// and quantization-aware training need, but slower than fp32 for inference. Lowering rewrites a
// copy of the model, for inference only, so that each pattern
//
//   QuantizeLinear(x) -> DequantizeLinear -> Linear | MatMul | Conv2d (8-bit symmetric weight)
//                                [-> ReLU] [-> MaxPool2d | Flatten ...] [-> QuantizeLinear]
//
// runs as one oneDNN int8 primitive (nn/kernels/int8_layers.hpp): uint8/int8 input codes, int8
// weights, int32 sums, per-channel scales, bias and ReLU fused, and the output requantized to
// the next QuantizeLinear's codes when that is the only consumer — so activations stay 8-bit
// codes from one int8 layer to the next — or dequantized to fp32. Max pooling and reshapes on
// the way to that QuantizeLinear commute with quantization (it is monotone), so they run on
// the codes. Conv2d lowers when it has one group. The file, its graph and the
// ONNX export stay the QDQ graph; training never lowers.
#include "shrink/nn/model.hpp"

#include <optional>
#include <string>
#include <vector>

namespace shrink {

// SHRINK_INT8: unset, "" or "auto" lowers every pattern for inference; "off" runs the QDQ graph
// in fp32 (to compare). Any other value is a bad-input Error. Read once.
bool int8_execution_enabled();

// One layer an int8 lowering runs as an int8 op.
struct Int8LayerPlan {
  std::string layer;        // the Linear, MatMul or Conv2d node
  std::string type;         // its op type
  std::string input;        // the QuantizeLinear whose codes it reads
  // Whether it computes them itself: that QuantizeLinear fed only this layer, so it goes and the
  // layer reads the fp32 values before it.
  bool quantizes_input = false;
  std::string input_type;   // "uint8" or "int8"
  std::string relu;         // the ReLU fused into it, or empty
  std::string output;       // the QuantizeLinear whose codes it writes, or empty: fp32
  std::string output_type;  // "uint8", "int8" or "fp32"
  // A MaxPool2d right behind a requantizing Conv2d (its ReLU): oneDNN pools the codes inside
  // the int8 op. Empty when none.
  std::string pool;
  // The max pooling and reshapes between the layer (its pool) and `output`, which then run on
  // the codes.
  std::vector<std::string> through;
  std::vector<std::string> removed;  // the nodes the lowering drops (DequantizeLinear, ReLU, ...)
  // Whether its weight runs as two halves (twice the multiply-adds) on this CPU: no VNNI and
  // weight codes beyond +-64.
  bool split_weights = false;
};

// The patterns of `model` that lower (whatever SHRINK_INT8 says), in model order.
std::vector<Int8LayerPlan> plan_int8_execution(const Model& model);

// A copy of `model` with every pattern of plan_int8_execution lowered; the model is untouched.
// The copy runs inference (forward with training = false) and reports itself; it cannot train,
// be cloned or be saved, since its int8 ops exist only for running.
Model lower_to_int8(const Model& model);

// What inference should run: the lowered copy when SHRINK_INT8 allows it and the model has a
// pattern, else nothing (run the model itself).
std::optional<Model> int8_inference_model(const Model& model);

// The instruction set oneDNN's int8 kernels use on this CPU under SHRINK_ISA ("avx512_core_vnni",
// "avx2", "sse41").
std::string int8_kernel_isa();

// Whether those kernels multiply int8 with VNNI. Without it they add u8 x s8 products in pairs
// in int16, which 8-bit weight codes can saturate: an int8 layer whose weight codes exceed
// +-64 then runs two passes over the weight halves to stay exact, where 7-bit weights
// (quant.int8's reduce_range) run one.
bool int8_kernels_have_vnni();

}  // namespace shrink
