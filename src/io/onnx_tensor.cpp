#include "io/onnx_tensor.hpp"

#include "shrink/core/error.hpp"

#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

namespace shrink::onnx_io {
namespace {

static_assert(std::endian::native == std::endian::little,
              "ONNX raw_data is little-endian; this reader copies bytes as they are");

using DataType = onnx::TensorProto_DataType;

// Reads `count` little-endian elements of type T from raw bytes into doubles.
template <class T>
void decode_raw(const std::string& raw, int64_t count, std::vector<double>& out,
                const std::string& what) {
  if (static_cast<int64_t>(raw.size()) != count * static_cast<int64_t>(sizeof(T)))
    throw Error::bad_input(what + " holds " + std::to_string(raw.size()) + " bytes of data but " +
                           "its shape needs " + std::to_string(count * sizeof(T)));
  out.resize(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    T v;
    std::memcpy(&v, raw.data() + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
    out[static_cast<size_t>(i)] = static_cast<double>(v);
  }
}

template <class Field>
void decode_field(const Field& field, int64_t count, std::vector<double>& out,
                  const std::string& what) {
  if (field.size() != count)
    throw Error::bad_input(what + " holds " + std::to_string(field.size()) +
                           " elements but its shape needs " + std::to_string(count));
  out.assign(field.begin(), field.end());
}

// The bytes of a tensor stored outside the model file (models over 2 GB, or saved that way).
std::string read_external(const onnx::TensorProto& proto, const std::string& base_dir,
                          const std::string& what) {
  if (base_dir.empty())
    throw Error::bad_input(what + " keeps its data in an external file, which is only allowed " +
                           "inside a model file");
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& entry : proto.external_data()) {
    if (entry.key() == "location") location = entry.value();
    else if (entry.key() == "offset") offset = std::stoll(entry.value());
    else if (entry.key() == "length") length = std::stoll(entry.value());
  }
  namespace fs = std::filesystem;
  if (location.empty() || fs::path(location).is_absolute() ||
      fs::path(location).lexically_normal().string().starts_with(".."))
    throw Error::bad_input(what + " has an external data location '" + location +
                           "' that is not a file beside the model");
  const fs::path path = fs::path(base_dir) / location;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error::bad_input(what + ": cannot open its external data file " + path.string());
  in.seekg(0, std::ios::end);
  const int64_t size = static_cast<int64_t>(in.tellg());
  if (length < 0) length = size - offset;
  if (offset < 0 || offset + length > size)
    throw Error::bad_input(what + ": external data range [" + std::to_string(offset) + ", " +
                           std::to_string(offset + length) + ") lies outside " + path.string());
  std::string bytes(static_cast<size_t>(length), '\0');
  in.seekg(offset);
  in.read(bytes.data(), length);
  return bytes;
}

}  // namespace

bool Constant::has_batch() const {
  for (char b : batch)
    if (b) return true;
  return false;
}

Tensor Constant::to_tensor() const {
  std::vector<float> data(values.begin(), values.end());
  return Tensor(shape, std::move(data));
}

std::vector<int64_t> Constant::to_ints() const {
  std::vector<int64_t> out;
  out.reserve(values.size());
  for (double v : values) out.push_back(static_cast<int64_t>(v));
  return out;
}

Constant float_constant(const Tensor& tensor) {
  Constant c;
  c.shape = tensor.shape();
  c.values.assign(tensor.begin(), tensor.end());
  return c;
}

Constant int_constant(const std::vector<int64_t>& values, Shape shape) {
  Constant c;
  c.is_integer = true;
  c.shape = std::move(shape);
  c.values.assign(values.begin(), values.end());
  return c;
}

std::string data_type_name(int data_type) {
  if (!onnx::TensorProto_DataType_IsValid(data_type)) return "unknown (" + std::to_string(data_type) + ")";
  return onnx::TensorProto_DataType_Name(static_cast<DataType>(data_type));
}

Constant constant_from_proto(const onnx::TensorProto& proto, const std::string& base_dir,
                             const std::string& what) {
  Constant c;
  for (int64_t d : proto.dims()) {
    if (d < 0) throw Error::bad_input(what + " has a negative dimension " + std::to_string(d));
    c.shape.push_back(d);
  }
  const int64_t count = element_count(c.shape);
  const bool external =
      proto.data_location() == onnx::TensorProto_DataLocation_EXTERNAL;
  const std::string external_bytes = external ? read_external(proto, base_dir, what) : "";
  const bool raw = external || proto.has_raw_data();
  const std::string& bytes = external ? external_bytes : proto.raw_data();
  switch (proto.data_type()) {
    case onnx::TensorProto_DataType_FLOAT:
      if (raw) decode_raw<float>(bytes, count, c.values, what);
      else decode_field(proto.float_data(), count, c.values, what);
      break;
    case onnx::TensorProto_DataType_DOUBLE:
      if (raw) decode_raw<double>(bytes, count, c.values, what);
      else decode_field(proto.double_data(), count, c.values, what);
      break;
    case onnx::TensorProto_DataType_INT64:
      c.is_integer = true;
      if (raw) decode_raw<int64_t>(bytes, count, c.values, what);
      else decode_field(proto.int64_data(), count, c.values, what);
      break;
    case onnx::TensorProto_DataType_INT32:
      c.is_integer = true;
      if (raw) decode_raw<int32_t>(bytes, count, c.values, what);
      else decode_field(proto.int32_data(), count, c.values, what);
      break;
    case onnx::TensorProto_DataType_INT8:
      c.is_integer = true;
      if (raw) decode_raw<int8_t>(bytes, count, c.values, what);
      else decode_field(proto.int32_data(), count, c.values, what);
      break;
    case onnx::TensorProto_DataType_UINT8:
    case onnx::TensorProto_DataType_BOOL:
      c.is_integer = true;
      if (raw) decode_raw<uint8_t>(bytes, count, c.values, what);
      else decode_field(proto.int32_data(), count, c.values, what);
      break;
    default:
      throw Error::bad_input(what + " has element type " + data_type_name(proto.data_type()) +
                             ", which shrink does not read (float, double and integer tensors are)");
  }
  return c;
}

Tensor float_tensor_from_proto(const onnx::TensorProto& proto, const std::string& what) {
  if (proto.data_type() != onnx::TensorProto_DataType_FLOAT)
    throw Error::bad_input(what + " has element type " + data_type_name(proto.data_type()) +
                           "; shrink reads float32 tensors only");
  return constant_from_proto(proto, "", what).to_tensor();
}

void float_tensor_to_proto(const Tensor& tensor, const std::string& name,
                           onnx::TensorProto& proto) {
  proto.Clear();
  proto.set_name(name);
  proto.set_data_type(onnx::TensorProto_DataType_FLOAT);
  for (int64_t d : tensor.shape()) proto.add_dims(d);
  proto.set_raw_data(std::string(reinterpret_cast<const char*>(tensor.data()),
                                 static_cast<size_t>(tensor.numel()) * sizeof(float)));
}

void int_tensor_to_proto(const std::vector<int64_t>& values, const Shape& shape,
                         const std::string& name, onnx::TensorProto& proto) {
  proto.Clear();
  proto.set_name(name);
  proto.set_data_type(onnx::TensorProto_DataType_INT64);
  for (int64_t d : shape) proto.add_dims(d);
  proto.set_raw_data(std::string(reinterpret_cast<const char*>(values.data()),
                                 values.size() * sizeof(int64_t)));
}

}  // namespace shrink::onnx_io
