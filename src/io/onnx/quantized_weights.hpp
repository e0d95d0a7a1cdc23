#pragma once
// Int8 weights of QDQ files made by other tools (ONNX Runtime's quantize_static, PyTorch, ...):
// a constant weight stored as int8 codes behind a DequantizeLinear becomes the weight state
// quant.int8 gives (8-bit symmetric affine: the codes and a scale per tensor or per output
// channel), so the imported model stores int8 weights and runs on the int8 kernels. What those
// kernels cannot take keeps the dequantized fp32 values, with the reason.
#include "io/onnx_tensor.hpp"
#include "shrink/nn/parameter.hpp"

#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

namespace shrink::onnx_io {

// What a DequantizeLinear of constants said about its output.
struct DequantizedConstant {
  std::vector<float> scales;  // one per tensor, or one per index along `axis`
  int64_t axis = -1;          // -1: one scale for the tensor
  std::string refusal;        // non-empty: why its codes are no int8 weight the kernels take
};

// Reads DequantizeLinear(x, scale[, zero point]) of constants (`in`, already checked by folding).
DequantizedConstant describe_dequantize(const onnx::NodeProto& node, const std::vector<const Constant*>& in);

// Makes `weight` — a layer's weight whose value the dequantized constant gave, with the
// constant's axis `output_axis` (-1: none) now its axis 0, the output channels — an 8-bit
// symmetric affine weight holding the same codes and scales. Returns "" when it did, else why not
// (the weight then keeps its fp32 value).
std::string adopt_int8_codes(Parameter& weight, const DequantizedConstant& dq, int64_t output_axis);

}  // namespace shrink::onnx_io
