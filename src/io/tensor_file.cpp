#include "shrink/io/tensor_file.hpp"

#include "io/onnx_tensor.hpp"
#include "shrink/core/error.hpp"
#include "shrink/core/file.hpp"

#include <bit>
#include <cctype>
#include <charconv>
#include <cstring>
#include <filesystem>

namespace shrink {
namespace {

static_assert(std::endian::native == std::endian::little,
              ".npy float32 data is read and written as little-endian bytes");

constexpr char kNpyMagic[] = "\x93NUMPY";
constexpr size_t kNpyMagicSize = 6;

std::string lower_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

// The text after `'key':` in a .npy header dict, up to the next top-level comma or brace.
std::string npy_field(const std::string& header, const std::string& key, const std::string& what) {
  const std::string quoted[] = {"'" + key + "'", "\"" + key + "\""};
  size_t pos = std::string::npos;
  for (const auto& q : quoted)
    if ((pos = header.find(q)) != std::string::npos) {
      pos += q.size();
      break;
    }
  if (pos == std::string::npos)
    throw Error::bad_input(what + ": the .npy header has no '" + key + "' entry: " + header);
  pos = header.find(':', pos);
  if (pos == std::string::npos) throw Error::bad_input(what + ": malformed .npy header " + header);
  ++pos;
  int depth = 0;
  size_t end = pos;
  for (; end < header.size(); ++end) {
    const char c = header[end];
    if (c == '(' || c == '[') ++depth;
    else if (c == ')' || c == ']') --depth;
    else if ((c == ',' || c == '}') && depth == 0) break;
  }
  std::string value = header.substr(pos, end - pos);
  const auto first = value.find_first_not_of(" \t");
  const auto last = value.find_last_not_of(" \t");
  return first == std::string::npos ? "" : value.substr(first, last - first + 1);
}

Shape parse_npy_shape(const std::string& text, const std::string& what) {
  if (text.size() < 2 || text.front() != '(' || text.back() != ')')
    throw Error::bad_input(what + ": the .npy shape " + text + " is not a tuple");
  Shape shape;
  std::string number;
  for (size_t i = 1; i < text.size(); ++i) {
    const char c = text[i];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      number += c;
    } else if (c == ',' || c == ')') {
      if (!number.empty()) {
        int64_t size = 0;
        const auto [end, error] =
            std::from_chars(number.data(), number.data() + number.size(), size);
        if (error != std::errc() || end != number.data() + number.size())
          throw Error::bad_input(what + ": the .npy shape " + text + " has a size too large " +
                                 "for any array");
        shape.push_back(size);
      }
      number.clear();
    } else if (c != ' ' && c != 'L') {
      throw Error::bad_input(what + ": the .npy shape " + text + " is not a tuple of sizes");
    }
  }
  return shape;
}

}  // namespace

TensorFileFormat tensor_file_format(const std::string& path) {
  const std::string ext = lower_extension(path);
  if (ext == ".npy") return TensorFileFormat::Npy;
  if (ext == ".pb") return TensorFileFormat::OnnxTensor;
  throw Error::bad_input("tensor file " + path + " has extension '" + ext +
                         "'; expected .npy (NumPy) or .pb (ONNX TensorProto)");
}

std::string tensor_file_extension(TensorFileFormat format) {
  return format == TensorFileFormat::Npy ? ".npy" : ".pb";
}

std::string encode_npy(const Tensor& tensor) {
  std::string shape = "(";
  for (size_t i = 0; i < tensor.rank(); ++i) shape += std::to_string(tensor.dim(i)) + ", ";
  if (tensor.rank() > 1) shape.resize(shape.size() - 2);
  else if (tensor.rank() == 1) shape.resize(shape.size() - 1);
  shape += ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  // NumPy pads the header with spaces so the data starts on a 64-byte boundary.
  const size_t unpadded = kNpyMagicSize + 2 + 2 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string bytes(kNpyMagic, kNpyMagicSize);
  bytes += '\x01';
  bytes += '\x00';
  bytes += static_cast<char>(header.size() & 0xff);
  bytes += static_cast<char>((header.size() >> 8) & 0xff);
  bytes += header;
  bytes.append(reinterpret_cast<const char*>(tensor.data()),
               static_cast<size_t>(tensor.numel()) * sizeof(float));
  return bytes;
}

Tensor decode_npy(const std::string& bytes, const std::string& what) {
  if (bytes.size() < 10 || bytes.compare(0, kNpyMagicSize, kNpyMagic, kNpyMagicSize) != 0)
    throw Error::bad_input(what + " is not a NumPy .npy file (no \\x93NUMPY magic)");
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_size = 0, offset = 0;
  if (major == 1) {
    header_size = static_cast<unsigned char>(bytes[8]) |
                  (static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw Error::bad_input(what + ": truncated .npy header");
    for (int i = 3; i >= 0; --i)
      header_size = (header_size << 8) | static_cast<unsigned char>(bytes[8 + static_cast<size_t>(i)]);
    offset = 12;
  } else {
    throw Error::bad_input(what + ": unsupported .npy format version " + std::to_string(major));
  }
  if (offset + header_size > bytes.size())
    throw Error::bad_input(what + ": truncated .npy header");
  const std::string header = bytes.substr(offset, header_size);
  std::string descr = npy_field(header, "descr", what);
  if (descr.size() >= 2 && (descr.front() == '\'' || descr.front() == '"'))
    descr = descr.substr(1, descr.size() - 2);
  if (descr != "<f4")
    throw Error::bad_input(what + " holds dtype '" + descr + "'; shrink reads little-endian " +
                           "float32 ('<f4') .npy files (convert with x.astype(numpy.float32))");
  if (npy_field(header, "fortran_order", what) != "False")
    throw Error::bad_input(what + " is stored in Fortran order; save a C-ordered array " +
                           "(numpy.ascontiguousarray)");
  const Shape shape = parse_npy_shape(npy_field(header, "shape", what), what);
  const int64_t count = element_count(shape);
  const size_t data_offset = offset + header_size;
  const size_t need = static_cast<size_t>(count) * sizeof(float);
  if (bytes.size() - data_offset != need)
    throw Error::bad_input(what + " has " + std::to_string(bytes.size() - data_offset) +
                           " bytes of data but its shape " + to_string(shape) + " needs " +
                           std::to_string(need));
  Tensor tensor(shape);
  if (need > 0) std::memcpy(tensor.data(), bytes.data() + data_offset, need);
  return tensor;
}

Tensor read_npy(const std::string& path) { return decode_npy(read_file(path), path); }

void write_npy(const Tensor& tensor, const std::string& path) {
  write_file_atomic(path, encode_npy(tensor));
}

Tensor read_tensor_pb(const std::string& path, std::string* name) {
  const std::string bytes = read_file(path);
  onnx::TensorProto proto;
  if (!proto.ParseFromString(bytes))
    throw Error::bad_input(path + " is not a serialized ONNX TensorProto");
  if (name) *name = proto.name();
  return onnx_io::float_tensor_from_proto(proto, "tensor file " + path);
}

void write_tensor_pb(const Tensor& tensor, const std::string& name, const std::string& path) {
  onnx::TensorProto proto;
  onnx_io::float_tensor_to_proto(tensor, name, proto);
  write_file_atomic(path, proto.SerializeAsString());
}

Tensor read_tensor_file(const std::string& path, std::string* name) {
  if (tensor_file_format(path) == TensorFileFormat::Npy) {
    if (name) name->clear();
    return read_npy(path);
  }
  return read_tensor_pb(path, name);
}

void write_tensor_file(const Tensor& tensor, const std::string& path, const std::string& name) {
  if (tensor_file_format(path) == TensorFileFormat::Npy) return write_npy(tensor, path);
  write_tensor_pb(tensor, name, path);
}

}  // namespace shrink
