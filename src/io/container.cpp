#include "shrink/io/container.hpp"

#include "shrink/core/error.hpp"
#include "shrink/core/file.hpp"
#include "shrink/io/tensor_encoding.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <new>
#include <optional>
#include <set>
#include <stdexcept>

namespace shrink {
namespace {

using Json = nlohmann::json;

constexpr int64_t kLengthBytes = 8;        // the u64 header length in front of the header
constexpr int64_t kHeaderAlignment = 8;    // header padded with spaces, so data starts 8-aligned
constexpr int64_t kTensorAlignment = 4;    // every stored tensor's length is a multiple of this,
                                           // so every F32 tensor is naturally aligned
constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // safetensors' own limit

// safetensors dtypes with a whole number of bytes per element.
struct Dtype {
  const char* name;
  int64_t bytes;
};
constexpr Dtype kDtypes[] = {
    {"BOOL", 1}, {"U8", 1},      {"I8", 1},      {"F8_E5M2", 1}, {"F8_E4M3", 1},
    {"F8_E8M0", 1}, {"I16", 2},  {"U16", 2},     {"F16", 2},     {"BF16", 2},
    {"I32", 4},  {"U32", 4},     {"F32", 4},     {"C64", 8},     {"F64", 8},
    {"I64", 8},  {"U64", 8},
};

const Dtype* find_dtype(const std::string& name) {
  for (const Dtype& dtype : kDtypes)
    if (name == dtype.name) return &dtype;
  return nullptr;
}

int64_t round_up(int64_t value, int64_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

// --- the safetensors layer ---------------------------------------------------------------

struct StoredTensor {
  std::string name;
  std::string dtype;
  Shape shape;
  int64_t begin = 0;  // relative to the data start
  int64_t end = 0;
};

struct Container {
  std::map<std::string, std::string> metadata;  // __metadata__
  std::vector<StoredTensor> tensors;            // in storage order
  std::string_view data;                        // the byte buffer after the header
};

uint64_t read_u64(std::string_view bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = value << 8 | static_cast<unsigned char>(bytes[i]);
  return value;
}

void append_u64(std::string& out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(value >> (8 * i)));
}

bool is_count(const Json& value) {
  return value.is_number_unsigned() || (value.is_number_integer() && value.get<int64_t>() >= 0);
}

// Reads one tensor entry of the header, checking the types of its fields.
StoredTensor read_entry(const std::string& name, const Json& entry, const std::string& where) {
  const std::string culprit = where + ": tensor " + name;
  require(entry.is_object(), culprit + " has a header entry that is not a JSON object");
  require(entry.contains("dtype") && entry["dtype"].is_string(), culprit + " has no \"dtype\"");
  require(entry.contains("shape") && entry["shape"].is_array(), culprit + " has no \"shape\"");
  require(entry.contains("data_offsets") && entry["data_offsets"].is_array() &&
              entry["data_offsets"].size() == 2 && is_count(entry["data_offsets"][0]) &&
              is_count(entry["data_offsets"][1]),
          culprit + " needs \"data_offsets\": [begin, end] with two non-negative integers");
  StoredTensor tensor;
  tensor.name = name;
  tensor.dtype = entry["dtype"].get<std::string>();
  const Dtype* dtype = find_dtype(tensor.dtype);
  require(dtype != nullptr, culprit + " has unsupported dtype '" + tensor.dtype + "'");
  int64_t elements = 1;
  bool overflow = false;
  for (const Json& dim : entry["shape"]) {
    require(is_count(dim) && dim.get<uint64_t>() <= uint64_t{INT64_MAX},
            culprit + " has a shape " + entry["shape"].dump() +
                " that is not a list of non-negative integers");
    tensor.shape.push_back(dim.get<int64_t>());
    overflow |= __builtin_mul_overflow(elements, tensor.shape.back(), &elements);
  }
  const uint64_t begin = entry["data_offsets"][0].get<uint64_t>();
  const uint64_t end = entry["data_offsets"][1].get<uint64_t>();
  require(begin <= end && end <= uint64_t{INT64_MAX},
          culprit + " has data_offsets " + entry["data_offsets"].dump() + " that end before they begin");
  tensor.begin = static_cast<int64_t>(begin);
  tensor.end = static_cast<int64_t>(end);
  int64_t need = 0;
  overflow |= __builtin_mul_overflow(elements, dtype->bytes, &need);
  require(!overflow && need == tensor.end - tensor.begin,
          culprit + " has " + std::to_string(tensor.end - tensor.begin) + " bytes but shape " +
              to_string(tensor.shape) + " of " + tensor.dtype + " needs " +
              (overflow ? std::string("more than 2^63") : std::to_string(need)));
  return tensor;
}

// Parses and checks the safetensors layout: header length, header JSON, tensor entries whose
// data tile the buffer exactly (contiguous, no gaps, no overlap, nothing after the last one).
Container parse_container(std::string_view bytes, const std::string& where) {
  const int64_t size = static_cast<int64_t>(bytes.size());
  require(size >= kLengthBytes, where + " is truncated or not a .shrk file (" +
                                    std::to_string(size) +
                                    " bytes, the header length alone takes 8)");
  const uint64_t header_length = read_u64(bytes);
  require(header_length <= kMaxHeaderBytes,
          where + " is not a .shrk or safetensors file (its first 8 bytes give a header length of " +
              std::to_string(header_length) + " bytes)");
  const int64_t data_start = kLengthBytes + static_cast<int64_t>(header_length);
  require(data_start <= size, where + " is truncated (" + std::to_string(size) +
                                  " bytes, header says " + std::to_string(data_start) + ")");
  const std::string_view text = bytes.substr(kLengthBytes, header_length);
  require(!text.empty() && text.front() == '{',
          where + " is not a .shrk or safetensors file (its header does not start with '{')");

  // nlohmann::json keeps the last of duplicate keys; safetensors forbids them, so catch them.
  std::set<std::string> keys;
  std::string duplicate;
  const Json::parser_callback_t note_duplicates = [&](int depth, Json::parse_event_t event,
                                                      Json& parsed) {
    if (depth == 1 && event == Json::parse_event_t::key && !keys.insert(parsed.get<std::string>()).second)
      duplicate = parsed.get<std::string>();
    return true;
  };
  Json header;
  try {
    header = Json::parse(text, note_duplicates);
  } catch (const Json::exception& e) {
    throw Error::bad_input(where + " has a corrupt header (" + e.what() + ")");
  }
  require(header.is_object(), where + " has a header that is not a JSON object");
  require(duplicate.empty(), where + " has a corrupt header (key '" + duplicate +
                                 "' appears twice)");

  Container container;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      require(value.is_object(), where + ": __metadata__ must be a JSON object");
      for (const auto& [name, text_value] : value.items()) {
        require(text_value.is_string(),
                where + ": __metadata__ entry '" + name + "' must be a string");
        container.metadata[name] = text_value.get<std::string>();
      }
      continue;
    }
    container.tensors.push_back(read_entry(key, value, where));
  }
  std::sort(container.tensors.begin(), container.tensors.end(),
            [](const StoredTensor& a, const StoredTensor& b) {
              return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
            });

  const int64_t data_size = size - data_start;
  int64_t data_end = 0;
  for (const StoredTensor& tensor : container.tensors) data_end = std::max(data_end, tensor.end);
  require(data_end <= data_size, where + " is truncated (" + std::to_string(size) +
                                     " bytes, header says " +
                                     std::to_string(data_start + data_end) + ")");
  int64_t covered = 0;
  for (const StoredTensor& tensor : container.tensors) {
    require(tensor.begin == covered,
            where + ": tensor " + tensor.name + " starts at data byte " +
                std::to_string(tensor.begin) + " but the previous tensor ends at " +
                std::to_string(covered) + " (tensors must tile the data without gaps or overlap)");
    covered = tensor.end;
  }
  require(covered == data_size, where + " has " + std::to_string(data_size - covered) +
                                    " bytes after its last tensor");
  container.data = bytes.substr(static_cast<size_t>(data_start));
  return container;
}

// --- the shrink layer --------------------------------------------------------------------

// One stored tensor as shrink reads it.
struct ShrinkTensor {
  const StoredTensor* stored;
  const TensorEncoding* encoding;
  Shape shape;  // the parameter's shape
  bool masked;
  bool trainable;
};

const std::string& metadata_entry(const Container& container, const std::string& key,
                                  const std::string& where) {
  auto it = container.metadata.find(key);
  require(it != container.metadata.end(),
          where + " has no \"" + key + "\" in its __metadata__");
  return it->second;
}

Json parse_metadata_json(const std::string& text, const std::string& key,
                         const std::string& where) {
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    throw Error::bad_input(where + " has a corrupt \"" + key + "\" (" + e.what() + ")");
  }
}

bool is_shrink_file(const Container& container) {
  auto it = container.metadata.find("format");
  return it != container.metadata.end() && it->second == kShrkFormat;
}

void require_shrink_format(const Container& container, const std::string& where) {
  auto format = container.metadata.find("format");
  require(format != container.metadata.end(),
          where + " is a safetensors file without a shrink graph (no \"format\": \"shrink\" in "
                  "its __metadata__); only files saved by shrink can be loaded as models");
  require(format->second == kShrkFormat,
          where + " is a safetensors file of format '" + format->second +
              "' without a shrink graph; only files saved by shrink can be loaded as models");
  const std::string& version = metadata_entry(container, "format_version", where);
  require(version == std::to_string(kShrkFormatVersion),
          where + " has .shrk format version '" + version + "' but this build of shrink reads "
                  "version " + std::to_string(kShrkFormatVersion) +
                  "; use the shrink release that wrote it");
}

// Checks "shrink.encodings" against the stored tensors; the result is in storage order.
std::vector<ShrinkTensor> read_shrink_tensors(const Container& container,
                                              const std::string& where) {
  const Json encodings = parse_metadata_json(
      metadata_entry(container, "shrink.encodings", where), "shrink.encodings", where);
  require(encodings.is_object(), where + ": \"shrink.encodings\" must be a JSON object");
  std::vector<ShrinkTensor> tensors;
  for (const StoredTensor& stored : container.tensors) {
    const std::string culprit = where + ": tensor " + stored.name;
    require(encodings.contains(stored.name),
            culprit + " has no entry in \"shrink.encodings\"");
    const Json& entry = encodings[stored.name];
    require(entry.is_object() && entry.contains("encoding") && entry["encoding"].is_string() &&
                entry.contains("shape") && entry["shape"].is_array() &&
                entry.contains("masked") && entry["masked"].is_boolean() &&
                entry.contains("trainable") && entry["trainable"].is_boolean(),
            culprit + " needs {\"encoding\", \"shape\", \"masked\", \"trainable\"} in "
                      "\"shrink.encodings\", found " + entry.dump());
    ShrinkTensor tensor{&stored, nullptr, {}, entry["masked"].get<bool>(),
                        entry["trainable"].get<bool>()};
    const std::string name = entry["encoding"].get<std::string>();
    tensor.encoding = find_tensor_encoding(name);
    require(tensor.encoding != nullptr, culprit + " uses unknown encoding '" + name +
                                            "' (known: " + tensor_encoding_names() +
                                            "); it may need a newer shrink");
    for (const Json& dim : entry["shape"]) {
      require(dim.is_number_integer() && dim.get<int64_t>() >= 0,
              culprit + " has a shape " + entry["shape"].dump() +
                  " in \"shrink.encodings\" that is not a list of non-negative integers");
      tensor.shape.push_back(dim.get<int64_t>());
    }
    require(stored.dtype == tensor.encoding->dtype,
            culprit + " is stored as " + stored.dtype + " but encoding '" + name + "' stores " +
                tensor.encoding->dtype);
    if (std::string_view(tensor.encoding->dtype) == "F32")
      require(stored.shape == tensor.shape,
              culprit + " is stored with shape " + to_string(stored.shape) +
                  " but \"shrink.encodings\" gives " + to_string(tensor.shape));
    else
      require(stored.shape.size() == 1,
              culprit + " uses encoding '" + name + "' and must be stored as a 1-D byte tensor");
    require(!tensor.masked || tensor.encoding->stores_mask,
            culprit + " is marked masked but encoding '" + name + "' cannot record a mask");
    tensors.push_back(std::move(tensor));
  }
  for (const auto& item : encodings.items()) {
    const std::string& name = item.key();
    const bool stored = std::any_of(container.tensors.begin(), container.tensors.end(),
                                    [&](const StoredTensor& t) { return t.name == name; });
    require(stored, where + ": \"shrink.encodings\" names tensor " + name +
                        ", which the file does not contain");
  }
  return tensors;
}

// Decodes one tensor into `parameter` (whose value has the tensor's shape) and checks that
// only zero padding follows the encoded bytes.
void decode_tensor(const Container& container, const ShrinkTensor& tensor, Parameter& parameter,
                   const std::string& where) {
  const StoredTensor& stored = *tensor.stored;
  const std::string_view bytes = container.data.substr(
      static_cast<size_t>(stored.begin), static_cast<size_t>(stored.end - stored.begin));
  try {
    const int64_t used = tensor.encoding->decode(bytes, parameter, tensor.masked);
    const int64_t length = static_cast<int64_t>(bytes.size());
    require(length == round_up(used, kTensorAlignment),
            "the encoding uses " + std::to_string(used) + " bytes, stored with padding as " +
                std::to_string(round_up(used, kTensorAlignment)) + ", but the file stores " +
                std::to_string(length));
    require(std::all_of(bytes.begin() + used, bytes.end(), [](char c) { return c == 0; }),
            "the padding after the encoded bytes is not zero");
  } catch (Error& e) {
    throw e.add_context(where + ", tensor " + stored.name);
  }
  parameter.trainable = tensor.trainable;
}

Model read_model(const Container& container, const std::string& where) {
  require_shrink_format(container, where);
  const std::vector<ShrinkTensor> tensors = read_shrink_tensors(container, where);

  const Json graph = parse_metadata_json(metadata_entry(container, "shrink.graph", where),
                                         "shrink.graph", where);
  Model model;
  try {
    model = Model::from_graph_json(graph);
  } catch (Error& e) {
    throw e.add_context(where + ": its graph is invalid");
  }
  model.metadata = parse_metadata_json(metadata_entry(container, "shrink.metadata", where),
                                       "shrink.metadata", where);

  std::map<std::string, const ShrinkTensor*> by_name;
  for (const ShrinkTensor& tensor : tensors) by_name[tensor.stored->name] = &tensor;
  for (Parameter* parameter : model.parameters()) {
    auto it = by_name.find(parameter->name);
    require(it != by_name.end(),
            where + " has no tensor for parameter " + parameter->name + " of its graph");
    const ShrinkTensor& tensor = *it->second;
    require(tensor.shape == parameter->value.shape(),
            where + ": tensor " + parameter->name + " has shape " + to_string(tensor.shape) +
                " but the graph's parameter needs " + to_string(parameter->value.shape()));
    decode_tensor(container, tensor, *parameter, where);
    by_name.erase(it);
  }
  require(by_name.empty(), where + ": tensor " + (by_name.empty() ? "" : by_name.begin()->first) +
                               " is not a parameter of its graph");
  return model;
}

std::string describe(const std::string& origin) { return "model file " + origin; }

}  // namespace

std::string serialize_model(const Model& model) {
  Json header = Json::object();
  Json encodings = Json::object();
  std::string data;
  for (const Parameter* parameter : model.parameters()) {
    // A mask that prunes nothing says nothing (fine-tuning trains every weight either way), so
    // it is not stored: a model pruned to 0% saves as small as the dense one. (A quantized
    // weight keeps its mask: its codes were made under it.)
    std::optional<Parameter> unmasked;
    if (parameter->has_mask() && !parameter->quantized() &&
        std::all_of(parameter->mask.begin(), parameter->mask.end(), [](float m) { return m != 0.0f; })) {
      unmasked.emplace(*parameter);
      unmasked->mask = Tensor();
      parameter = &*unmasked;
    }
    const TensorEncoding& encoding = choose_tensor_encoding(*parameter);
    const int64_t begin = static_cast<int64_t>(data.size());
    encoding.encode(*parameter, data);
    const int64_t used = static_cast<int64_t>(data.size()) - begin;
    if (used != encoding.encoded_size(*parameter))
      throw Error::internal("encoding " + std::string(encoding.name) + " wrote " +
                            std::to_string(used) + " bytes for " + parameter->name +
                            " but promised " + std::to_string(encoding.encoded_size(*parameter)));
    data.resize(static_cast<size_t>(round_up(static_cast<int64_t>(data.size()), kTensorAlignment)),
                '\0');
    const int64_t end = static_cast<int64_t>(data.size());
    const bool bytes_tensor = std::string_view(encoding.dtype) != "F32";
    header[parameter->name] = {
        {"dtype", encoding.dtype},
        {"shape", bytes_tensor ? Shape{end - begin} : parameter->value.shape()},
        {"data_offsets", {begin, end}}};
    encodings[parameter->name] = {{"encoding", encoding.name},
                                  {"shape", parameter->value.shape()},
                                  {"masked", parameter->has_mask()},
                                  {"trainable", parameter->trainable}};
  }

  std::string text;
  try {
    header["__metadata__"] = {{"format", kShrkFormat},
                              {"format_version", std::to_string(kShrkFormatVersion)},
                              {"shrink.graph", model.graph_json().dump()},
                              {"shrink.metadata", model.metadata.dump()},
                              {"shrink.encodings", encodings.dump()}};
    text = header.dump();
  } catch (const Json::type_error& e) {
    throw Error::bad_input(std::string("cannot save the model: its metadata or names are not "
                                       "valid UTF-8 (") + e.what() + ")");
  }
  text.resize(static_cast<size_t>(round_up(static_cast<int64_t>(text.size()), kHeaderAlignment)),
              ' ');
  if (text.size() > kMaxHeaderBytes)
    throw Error::bad_input("cannot save the model: its header would take " +
                           std::to_string(text.size()) +
                           " bytes, over the safetensors limit of 100000000");

  std::string bytes;
  bytes.reserve(kLengthBytes + text.size() + data.size());
  append_u64(bytes, text.size());
  bytes += text;
  bytes += data;
  return bytes;
}

Model deserialize_model(std::string_view bytes, const std::string& origin) {
  const std::string where = describe(origin);
  try {
    return read_model(parse_container(bytes, where), where);
  } catch (const std::bad_alloc&) {
    throw Error::bad_input(where + " describes tensors too large to fit in memory");
  } catch (const std::length_error&) {
    throw Error::bad_input(where + " describes tensors too large to fit in memory");
  }
}

void save_model(const Model& model, const std::string& path) {
  write_file_atomic(path, serialize_model(model));
}

Model load_model_shrk(const std::string& path) {
  return deserialize_model(read_file(path, "model file"), path);
}

std::vector<TensorRecord> list_tensors(const std::string& path) {
  const std::string bytes = read_file(path, "model file");
  const std::string where = describe(path);
  const Container container = parse_container(bytes, where);
  std::vector<TensorRecord> records;
  try {
    if (is_shrink_file(container)) {
      require_shrink_format(container, where);
      for (const ShrinkTensor& tensor : read_shrink_tensors(container, where)) {
        Parameter parameter;
        parameter.name = tensor.stored->name;
        parameter.value = Tensor(tensor.shape);
        decode_tensor(container, tensor, parameter, where);
        TensorRecord record;
        record.name = tensor.stored->name;
        record.encoding = tensor.encoding->name;
        record.shape = tensor.shape;
        record.bytes = tensor.stored->end - tensor.stored->begin;
        record.nonzeros = parameter.nonzeros();
        if (const Quantizer* quantizer = parameter.quantizer()) {
          record.format = quantizer->format().name;
          record.bits = quantizer->bits();
        }
        records.push_back(std::move(record));
      }
      return records;
    }
    // A plain safetensors file: its tensors as stored.
    for (const StoredTensor& stored : container.tensors) {
      TensorRecord record;
      record.name = stored.name;
      record.encoding = "dense";
      record.shape = stored.shape;
      record.bytes = stored.end - stored.begin;
      const std::string_view bytes_of = container.data.substr(
          static_cast<size_t>(stored.begin), static_cast<size_t>(stored.end - stored.begin));
      if (stored.dtype == "F32") {
        Parameter parameter;
        parameter.value = Tensor(stored.shape);
        find_tensor_encoding("dense")->decode(bytes_of, parameter, false);
        record.nonzeros = parameter.nonzeros();
      } else {
        record.encoding = "dense-" + stored.dtype;
        const int64_t width = find_dtype(stored.dtype)->bytes;
        for (size_t at = 0; at < bytes_of.size(); at += static_cast<size_t>(width))
          record.nonzeros += std::any_of(bytes_of.begin() + at, bytes_of.begin() + at + width,
                                         [](char c) { return c != 0; });
      }
      records.push_back(std::move(record));
    }
  } catch (const std::bad_alloc&) {
    throw Error::bad_input(where + " describes tensors too large to fit in memory");
  }
  return records;
}

}  // namespace shrink
