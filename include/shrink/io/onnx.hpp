#pragma once
// ONNX in and out, through the official protobuf definitions.
//
// Import maps each ONNX operator onto a shrink op (Gemm -> Linear, Conv -> Conv2d, ...), turns
// initializers into parameters named "<node>.<suffix>" and folds every subgraph that does not
// depend on the input (Constant, Shape/Gather/Concat/Reshape arithmetic) at load time. Every
// non-initializer graph input becomes a model input, read batch-first: its first dimension is
// the batch (shared by all inputs), the rest is the per-sample shape. Anything shrink cannot
// represent exactly is a
// bad-input error naming the node, the operator and the opset; never a silent approximation.
//
// Export writes opset 13 (14 when a Hardswish needs it) with a dynamic batch dimension and
// passes onnx::checker before a byte reaches the disk. QuantizeLinear/DequantizeLinear nodes
// and 8-bit affine weights are written as ONNX's QDQ form (a QDQ file ONNX Runtime runs).
#include "shrink/nn/model.hpp"

#include <map>
#include <string>
#include <vector>

namespace shrink {

// The opsets of the default ONNX domain the importer understands. Before opset 9 an operator
// whose older version means something else is refused with the difference named.
inline constexpr int kOnnxMinOpset = 1;
inline constexpr int kOnnxMaxOpset = 18;
// The opset the exporter writes.
inline constexpr int kOnnxExportOpset = 13;

// Reads an .onnx file. The model's metadata records {"source": "onnx", "producer", "opset",
// "onnx": {"input", "output", "ir_version"}, "normalization"} (pixels scaled to [0, 1] unless a
// conversion set --mean/--std).
//
// `input_values` gives values for graph inputs by name. A graph input that cannot share the
// batch axis of the first one (a scalar, or another fixed leading size: Gemm's B, a broadcast
// operand of shape [5]) is read once, as a constant broadcast over the batch, and needs its value
// here; so does a graph input where shrink needs a constant (Conv's and Gemm's weights,
// BatchNormalization's statistics, Clip's bounds). Those inputs become constants of the model
// (metadata "onnx"."constant_inputs" lists them) and are no model inputs; values given for the
// other inputs are ignored. The model then computes the graph for those values only.
Model load_onnx(const std::string& path, const std::map<std::string, Tensor>& input_values = {});
Model load_onnx_bytes(const std::string& bytes, const std::string& what,
                      const std::string& base_dir = "",
                      const std::map<std::string, Tensor>& input_values = {});

// The ONNX operators the importer translates into ops (sorted). Nodes of other operators are
// imported only when their inputs are constants and the folder evaluates them.
std::vector<std::string> onnx_import_operators();

// Writes an .onnx file atomically (temporary file + rename) after onnx::checker accepts it.
void save_onnx(const Model& model, const std::string& path);
std::string save_onnx_bytes(const Model& model);

// Whether the exporter writes this parameter as 8-bit integers: an 8-bit affine weight (int8
// symmetric or uint8 with zero points, per tensor or per output channel) becomes its codes, its
// scales and zero points, and a DequantizeLinear (axis 0 when per channel) in front of the layer,
// as QDQ ONNX files hold int8 weights; so does a 7-bit symmetric one (quant.int8's reduce_range,
// codes -63..63). Every other quantized weight is written dequantized.
bool onnx_exports_as_integers(const Parameter& parameter);

// Runs onnx::checker::check_model on a file; a failure is a bad-input error with its reason.
void check_onnx_file(const std::string& path);

}  // namespace shrink
