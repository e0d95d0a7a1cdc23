#pragma once
// Tensors on disk, the way people feed and compare runtimes: NumPy .npy files and ONNX
// TensorProto .pb files (the format of the ONNX test data sets). float32 only.
#include "shrink/core/tensor.hpp"

#include <string>

namespace shrink {

enum class TensorFileFormat { Npy, OnnxTensor };

// The format a path names by its extension (.npy or .pb); anything else is a bad-input error.
TensorFileFormat tensor_file_format(const std::string& path);
std::string tensor_file_extension(TensorFileFormat format);  // ".npy" or ".pb"

// .npy: float32, little-endian, C order (versions 1.0 to 3.0). Another dtype, Fortran order or
// a truncated file is a bad-input error naming the file and what it holds.
Tensor read_npy(const std::string& path);
void write_npy(const Tensor& tensor, const std::string& path);  // version 1.0, atomically
std::string encode_npy(const Tensor& tensor);
Tensor decode_npy(const std::string& bytes, const std::string& what);

// .pb: one serialized onnx.TensorProto of type FLOAT; `name` receives the tensor's name.
Tensor read_tensor_pb(const std::string& path, std::string* name = nullptr);
void write_tensor_pb(const Tensor& tensor, const std::string& name, const std::string& path);

// Dispatch on the extension. `name` is used by .pb only.
Tensor read_tensor_file(const std::string& path, std::string* name = nullptr);
void write_tensor_file(const Tensor& tensor, const std::string& path, const std::string& name = "");

}  // namespace shrink
