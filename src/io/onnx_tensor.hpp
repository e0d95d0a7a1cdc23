#pragma once
// Conversions between ONNX TensorProto and shrink values, shared by the importer, the exporter
// and the tensor-file reader. Internal to src/: protobuf never reaches a public header.
#include "shrink/core/tensor.hpp"

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <vector>

namespace shrink::onnx_io {

// A constant met while importing: an initializer, a Constant node or a folded subgraph.
// Float tensors keep their elements as doubles (every float32 and float64 value exactly);
// integer tensors keep theirs as int64, since shapes and Slice bounds such as INT64_MAX ("to
// the end", as PyTorch writes it) do not survive a trip through double.
struct Constant {
  bool is_integer = false;
  Shape shape;
  std::vector<double> values;  // float tensors
  std::vector<int64_t> ints;   // integer and bool tensors
  // The ONNX element type it was read as (TensorProto_DataType); 0 when computed. Tells the
  // int8 and uint8 zero points of QuantizeLinear apart.
  int data_type = 0;
  // Per element, true where the value stands for the batch size, unknown until run time (the
  // Shape of a batch-first value). Empty when no element does.
  std::vector<char> batch;

  int64_t numel() const {
    return static_cast<int64_t>(is_integer ? ints.size() : values.size());
  }
  // Element i of either kind, as a double (for scalars such as a Clip bound or a pad value).
  double value(int64_t i) const;
  // The only element of a one-element tensor; `what` names it in the error otherwise.
  double scalar(const std::string& what) const;
  bool has_batch() const;
  bool is_batch(int64_t i) const { return !batch.empty() && batch[static_cast<size_t>(i)]; }
  Tensor to_tensor() const;
  std::vector<int64_t> to_ints() const;  // integer tensors only
};

Constant float_constant(const Tensor& tensor);
Constant int_constant(const std::vector<int64_t>& values, Shape shape);

// Reads any numeric TensorProto. External data is read relative to `base_dir`; an empty
// `base_dir` rejects it. `what` names the tensor in errors ("initializer fc.weight").
Constant constant_from_proto(const onnx::TensorProto& proto, const std::string& base_dir,
                             const std::string& what);
// Reads a float32 TensorProto (the only element type shrink computes in).
Tensor float_tensor_from_proto(const onnx::TensorProto& proto, const std::string& what);

// Writes little-endian raw_data, the compact form every ONNX reader accepts.
void float_tensor_to_proto(const Tensor& tensor, const std::string& name, onnx::TensorProto& proto);
void int_tensor_to_proto(const std::vector<int64_t>& values, const Shape& shape,
                         const std::string& name, onnx::TensorProto& proto);

// An 8-bit integer tensor (INT8 when `is_signed`, else UINT8) of values already in its range:
// the codes and zero points of QuantizeLinear/DequantizeLinear.
void byte_tensor_to_proto(const std::vector<int32_t>& values, const Shape& shape, bool is_signed,
                          const std::string& name, onnx::TensorProto& proto);

std::string data_type_name(int data_type);

}  // namespace shrink::onnx_io
