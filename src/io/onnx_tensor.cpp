#include "io/onnx_tensor.hpp"

#include "shrink/core/error.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

namespace shrink::onnx_io {
namespace {

static_assert(std::endian::native == std::endian::little,
              "ONNX raw_data is little-endian; this reader copies bytes as they are");

using DataType = onnx::TensorProto_DataType;

// Reads `count` little-endian elements of type T from raw bytes into `out` (doubles for float
// tensors, int64 for integer ones: both hold every value of T exactly).
template <class T, class Out>
void decode_raw(const std::string& raw, int64_t count, std::vector<Out>& out,
                const std::string& what) {
  // count * sizeof(T) cannot overflow: element_count() bounds a shape's bytes.
  if (static_cast<int64_t>(raw.size()) != count * static_cast<int64_t>(sizeof(T)))
    throw Error::bad_input(what + " holds " + std::to_string(raw.size()) + " bytes of data but " +
                           "its shape needs " + std::to_string(count * sizeof(T)));
  out.resize(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    T v;
    std::memcpy(&v, raw.data() + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
    out[static_cast<size_t>(i)] = static_cast<Out>(v);
  }
}

template <class Field, class Out>
void decode_field(const Field& field, int64_t count, std::vector<Out>& out,
                  const std::string& what) {
  if (field.size() != count)
    throw Error::bad_input(what + " holds " + std::to_string(field.size()) +
                           " elements but its shape needs " + std::to_string(count));
  out.assign(field.begin(), field.end());
}

// A decimal integer from the file's text (external_data offset and length).
int64_t parse_count(const std::string& text, const std::string& what) {
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < 0)
    throw Error::bad_input(what + " is '" + text + "', not a non-negative integer");
  return value;
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
    else if (entry.key() == "offset") offset = parse_count(entry.value(), what + ": external data offset");
    else if (entry.key() == "length") length = parse_count(entry.value(), what + ": external data length");
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
  if (size < 0) throw Error::bad_input(what + ": cannot read its external data file " + path.string());
  if (length < 0) length = std::max<int64_t>(0, size - offset);
  // Both are non-negative, so comparing against what is left cannot overflow as offset + length can.
  if (offset > size || length > size - offset)
    throw Error::bad_input(what + ": external data of " + std::to_string(length) +
                           " bytes at offset " + std::to_string(offset) + " lies outside " +
                           path.string() + " (" + std::to_string(size) + " bytes)");
  std::string bytes(static_cast<size_t>(length), '\0');
  in.seekg(offset);
  in.read(bytes.data(), length);
  if (in.gcount() != length)
    throw Error::bad_input(what + ": could read only " + std::to_string(in.gcount()) + " of " +
                           std::to_string(length) + " bytes from " + path.string());
  return bytes;
}

}  // namespace

bool Constant::has_batch() const {
  for (char b : batch)
    if (b) return true;
  return false;
}

double Constant::value(int64_t i) const {
  return is_integer ? static_cast<double>(ints[static_cast<size_t>(i)])
                    : values[static_cast<size_t>(i)];
}

double Constant::scalar(const std::string& what) const {
  if (numel() != 1)
    throw Error::bad_input(what + " has shape " + to_string(shape) + "; it must hold one value");
  return value(0);
}

Tensor Constant::to_tensor() const {
  std::vector<float> data;
  if (is_integer) data.assign(ints.begin(), ints.end());
  else data.assign(values.begin(), values.end());
  return Tensor(shape, std::move(data));
}

std::vector<int64_t> Constant::to_ints() const {
  if (!is_integer)
    throw Error::bad_input("a float tensor of shape " + to_string(shape) +
                           " is used where integers (sizes, axes, indices) are expected");
  return ints;
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
  c.ints = values;
  return c;
}

std::string data_type_name(int data_type) {
  if (!onnx::TensorProto_DataType_IsValid(data_type)) return "unknown (" + std::to_string(data_type) + ")";
  return onnx::TensorProto_DataType_Name(static_cast<DataType>(data_type));
}

Constant constant_from_proto(const onnx::TensorProto& proto, const std::string& base_dir,
                             const std::string& what) {
  Constant c;
  c.data_type = proto.data_type();
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
      if (raw) decode_raw<int64_t>(bytes, count, c.ints, what);
      else decode_field(proto.int64_data(), count, c.ints, what);
      break;
    case onnx::TensorProto_DataType_INT32:
      c.is_integer = true;
      if (raw) decode_raw<int32_t>(bytes, count, c.ints, what);
      else decode_field(proto.int32_data(), count, c.ints, what);
      break;
    case onnx::TensorProto_DataType_INT8:
      c.is_integer = true;
      if (raw) decode_raw<int8_t>(bytes, count, c.ints, what);
      else decode_field(proto.int32_data(), count, c.ints, what);
      break;
    case onnx::TensorProto_DataType_UINT8:
    case onnx::TensorProto_DataType_BOOL:
      c.is_integer = true;
      if (raw) decode_raw<uint8_t>(bytes, count, c.ints, what);
      else decode_field(proto.int32_data(), count, c.ints, what);
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

void byte_tensor_to_proto(const std::vector<int32_t>& values, const Shape& shape, bool is_signed,
                          const std::string& name, onnx::TensorProto& proto) {
  proto.Clear();
  proto.set_name(name);
  proto.set_data_type(is_signed ? onnx::TensorProto_DataType_INT8 : onnx::TensorProto_DataType_UINT8);
  for (int64_t d : shape) proto.add_dims(d);
  std::string bytes(values.size(), '\0');
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] < (is_signed ? -128 : 0) || values[i] > (is_signed ? 127 : 255))
      throw Error::internal("ONNX export: " + name + " holds " + std::to_string(values[i]) +
                            ", outside its 8-bit type");
    bytes[i] = static_cast<char>(static_cast<uint8_t>(values[i]));
  }
  proto.set_raw_data(std::move(bytes));
}

}  // namespace shrink::onnx_io
