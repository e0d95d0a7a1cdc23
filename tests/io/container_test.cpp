#include "shrink/core/error.hpp"
#include "shrink/core/file.hpp"
#include "shrink/core/random.hpp"
#include "shrink/io/container.hpp"
#include "support/errors.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>

namespace shrink {
namespace {

using Json = nlohmann::json;

Json chain_graph(int64_t in, int64_t hidden, int64_t out) {
  return {{"input", {{"name", "x"}, {"shape", {in}}}},
          {"nodes",
           {{{"name", "fc1"}, {"type", "Linear"}, {"attributes", {{"out_features", hidden}}}},
            {{"name", "relu1"}, {"type", "ReLU"}},
            {{"name", "fc2"}, {"type", "Linear"}, {"attributes", {{"out_features", out}}}}}}};
}

Model make_model(int64_t in, int64_t hidden, int64_t out, uint64_t seed) {
  Model model = Model::from_graph_json(chain_graph(in, hidden, out));
  Rng rng(seed);
  for (Parameter* p : model.parameters())
    for (float& v : p->value) v = rng.normal();
  model.metadata = {{"classes", {"cat", "dog", "ünïcode"}}, {"normalize", {{"mean", 0.5}}}};
  return model;
}

// Prunes about `pruned` of the weight by a random mask; some kept weights are exactly zero.
void prune(Parameter& p, double pruned, uint64_t seed) {
  Rng rng(seed);
  p.mask = Tensor(p.value.shape(), 1.0f);
  for (int64_t i = 0; i < p.mask.numel(); ++i) {
    if (rng.uniform() < pruned) p.mask[i] = 0.0f;
    else if (rng.uniform() < 0.05f) p.value[i] = 0.0f;
  }
  p.apply_mask();
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.data(), b.data(), static_cast<size_t>(a.numel()) * sizeof(float)) == 0;
}

void expect_same_model(const Model& a, const Model& b) {
  EXPECT_EQ(a.graph_json(), b.graph_json());
  EXPECT_EQ(a.metadata, b.metadata);
  const auto pa = a.parameters();
  const auto pb = b.parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_EQ(pa[i]->name, pb[i]->name);
    // Pruned entries are not stored: they load as +0.0 (apply_mask may have left -0.0).
    Tensor expected = pa[i]->value;
    if (pa[i]->has_mask())
      for (int64_t j = 0; j < expected.numel(); ++j)
        if (pa[i]->mask[j] == 0.0f) expected[j] = 0.0f;
    EXPECT_TRUE(same_bits(expected, pb[i]->value)) << pa[i]->name;
    EXPECT_EQ(pa[i]->has_mask(), pb[i]->has_mask()) << pa[i]->name;
    if (pa[i]->has_mask()) {
      EXPECT_TRUE(same_bits(pa[i]->mask, pb[i]->mask)) << pa[i]->name;
    }
    EXPECT_EQ(pa[i]->trainable, pb[i]->trainable) << pa[i]->name;
  }
}

// The file read the way any safetensors reader would, without shrink's parser.
struct Safetensors {
  uint64_t header_length = 0;
  std::string header_text;
  Json header;
  std::string data;
};

Safetensors parse_safetensors(const std::string& bytes) {
  Safetensors file;
  EXPECT_GE(bytes.size(), 8u);
  for (int i = 7; i >= 0; --i)
    file.header_length = file.header_length << 8 | static_cast<unsigned char>(bytes[i]);
  EXPECT_LE(8 + file.header_length, bytes.size());
  file.header_text = bytes.substr(8, file.header_length);
  file.header = Json::parse(file.header_text);
  file.data = bytes.substr(8 + file.header_length);
  return file;
}

std::string make_safetensors(const Json& header, const std::string& data) {
  std::string text = header.dump();
  while (text.size() % 8) text += ' ';
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(uint64_t{text.size()} >> (8 * i)));
  return out + text + data;
}

using testing::bad_input_message;

#define EXPECT_CONTAINS(text, part) \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << "message: " << (text)

TEST(Container, RoundTripIsBitExact) {
  testing::TempDir dir;
  Model model = make_model(8, 16, 3, 1);
  Parameter& bias = model.parameter("fc1.bias");
  bias.value[0] = -0.0f;
  bias.value[1] = std::numeric_limits<float>::quiet_NaN();
  bias.value[2] = std::numeric_limits<float>::infinity();
  bias.value[3] = std::numeric_limits<float>::denorm_min();
  model.parameter("fc2.bias").trainable = false;
  prune(model.parameter("fc2.weight"), 0.5, 2);

  const std::string path = dir.file("model.shrk");
  save_model(model, path);
  Model loaded = load_model_shrk(path);
  expect_same_model(model, loaded);

  Tensor input({4, 8});
  Rng rng(3);
  for (float& v : input) v = rng.normal();
  const Tensor expected = model.forward(input);
  EXPECT_TRUE(same_bits(loaded.forward(input), expected));
}

TEST(Container, PrunedLayerIsStoredSparseAndItsMaskComesBackExactly) {
  testing::TempDir dir;
  Model model = make_model(512, 512, 10, 4);
  const std::string dense_path = dir.file("dense.shrk");
  save_model(model, dense_path);

  Parameter& weight = model.parameter("fc1.weight");
  prune(weight, 0.9, 5);
  const std::string sparse_path = dir.file("sparse.shrk");
  save_model(model, sparse_path);

  const auto dense_bytes = std::filesystem::file_size(dense_path);
  const auto sparse_bytes = std::filesystem::file_size(sparse_path);
  EXPECT_LT(sparse_bytes, dense_bytes * 3 / 10) << sparse_bytes << " vs " << dense_bytes;

  Model loaded = load_model_shrk(sparse_path);
  expect_same_model(model, loaded);
  // Kept weights that are exactly zero stay kept: the mask is not re-derived from values.
  int64_t kept_zeros = 0;
  for (int64_t i = 0; i < weight.value.numel(); ++i)
    kept_zeros += weight.mask[i] != 0.0f && weight.value[i] == 0.0f;
  EXPECT_GT(kept_zeros, 0);
  EXPECT_EQ(loaded.parameter("fc1.weight").mask.flat().sum(), weight.mask.flat().sum());
  EXPECT_FALSE(loaded.parameter("fc2.weight").has_mask());
}

TEST(Container, MostlyZeroUnmaskedTensorIsStoredSparseWithoutGainingAMask) {
  Model model = make_model(64, 64, 4, 6);
  Parameter& weight = model.parameter("fc1.weight");
  for (int64_t i = 0; i < weight.value.numel(); ++i)
    if (i % 20 != 0) weight.value[i] = 0.0f;
  testing::TempDir dir;
  save_model(model, dir.file("m.shrk"));
  const auto records = list_tensors(dir.file("m.shrk"));
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[0].name, "fc1.weight");
  EXPECT_NE(records[0].encoding, "dense");
  EXPECT_EQ(records[0].nonzeros, weight.nonzeros());
  const Model loaded = load_model_shrk(dir.file("m.shrk"));
  EXPECT_FALSE(loaded.parameter("fc1.weight").has_mask());
  expect_same_model(model, loaded);
}

// A model pruned to 0% (a sweep's first point) must not be larger than the dense original: a
// mask that prunes nothing is not stored, and the weights still load and train the same.
TEST(Container, AMaskThatPrunesNothingCostsNoBytes) {
  Model dense = make_model(64, 64, 4, 9);
  Model masked = dense.clone();
  Parameter& weight = masked.parameter("fc1.weight");
  weight.mask = Tensor(weight.value.shape(), 1.0f);
  EXPECT_EQ(serialize_model(masked), serialize_model(dense));
  const Model loaded = deserialize_model(serialize_model(masked), "memory");
  EXPECT_FALSE(loaded.parameter("fc1.weight").has_mask());
  EXPECT_TRUE(same_bits(loaded.parameter("fc1.weight").value, weight.value));
}

TEST(Container, SameModelGivesIdenticalBytes) {
  Model model = make_model(16, 32, 5, 7);
  prune(model.parameter("fc1.weight"), 0.8, 8);
  const std::string first = serialize_model(model);
  EXPECT_EQ(serialize_model(model), first);
  EXPECT_EQ(serialize_model(model.clone()), first);
  EXPECT_EQ(serialize_model(deserialize_model(first, "memory")), first);
  testing::TempDir dir;
  save_model(model, dir.file("a.shrk"));
  save_model(model, dir.file("b.shrk"));
  EXPECT_EQ(read_file(dir.file("a.shrk")), first);
  EXPECT_EQ(read_file(dir.file("b.shrk")), first);
}

TEST(Container, FileIsValidSafetensorsCheckedIndependently) {
  Model model = make_model(8, 16, 3, 9);
  prune(model.parameter("fc1.weight"), 0.7, 10);
  const std::string bytes = serialize_model(model);
  const Safetensors file = parse_safetensors(bytes);

  EXPECT_EQ(file.header_length % 8, 0u);
  EXPECT_EQ(file.header_text.front(), '{');
  ASSERT_TRUE(file.header.is_object());
  const Json& metadata = file.header["__metadata__"];
  for (const auto& [key, value] : metadata.items()) EXPECT_TRUE(value.is_string()) << key;
  EXPECT_EQ(metadata["format"], "shrink");
  EXPECT_EQ(metadata["format_version"], "1");
  EXPECT_EQ(Json::parse(metadata["shrink.graph"].get<std::string>()), model.graph_json());
  EXPECT_EQ(Json::parse(metadata["shrink.metadata"].get<std::string>()), model.metadata);
  const Json encodings = Json::parse(metadata["shrink.encodings"].get<std::string>());

  // Tensors in parameter order, contiguous from 0, covering the data exactly, 4-byte aligned.
  uint64_t offset = 0;
  for (const Parameter* p : model.parameters()) {
    ASSERT_TRUE(file.header.contains(p->name)) << p->name;
    const Json& entry = file.header[p->name];
    const uint64_t begin = entry["data_offsets"][0];
    const uint64_t end = entry["data_offsets"][1];
    EXPECT_EQ(begin, offset) << p->name;
    EXPECT_EQ(begin % 4, 0u) << p->name;
    offset = end;
    const Json& encoding = encodings[p->name];
    EXPECT_EQ(encoding["shape"].get<Shape>(), p->value.shape());
    EXPECT_EQ(encoding["masked"], p->has_mask());
    EXPECT_EQ(encoding["trainable"], p->trainable);
    if (entry["dtype"] == "F32") {
      EXPECT_EQ(encoding["encoding"], "dense");
      EXPECT_EQ(entry["shape"].get<Shape>(), p->value.shape());
      ASSERT_EQ(end - begin, static_cast<uint64_t>(p->value.numel()) * 4);
      EXPECT_EQ(std::memcmp(file.data.data() + begin, p->value.data(), end - begin), 0);
    } else {
      EXPECT_EQ(entry["dtype"], "U8");
      EXPECT_EQ(entry["shape"], Json::array({end - begin}));
      EXPECT_NE(encoding["encoding"], "dense");
    }
  }
  EXPECT_EQ(offset, file.data.size());
  EXPECT_EQ(file.header.size(), model.parameters().size() + 1);
  EXPECT_EQ(Json::parse(metadata["shrink.encodings"].get<std::string>())["fc1.weight"]["masked"],
            true);
}

TEST(Container, ListTensorsReportsStorage) {
  Model model = make_model(8, 16, 3, 11);
  prune(model.parameter("fc1.weight"), 0.75, 12);
  testing::TempDir dir;
  save_model(model, dir.file("m.shrk"));
  const Safetensors file = parse_safetensors(read_file(dir.file("m.shrk")));
  const auto records = list_tensors(dir.file("m.shrk"));
  const auto parameters = model.parameters();
  ASSERT_EQ(records.size(), parameters.size());
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].name, parameters[i]->name);
    EXPECT_EQ(records[i].shape, parameters[i]->value.shape());
    EXPECT_EQ(records[i].nonzeros, parameters[i]->nonzeros());
    const Json& offsets = file.header[records[i].name]["data_offsets"];
    EXPECT_EQ(records[i].bytes, offsets[1].get<int64_t>() - offsets[0].get<int64_t>());
  }
  EXPECT_NE(records[0].encoding, "dense");
  EXPECT_EQ(records[1].encoding, "dense");
}

TEST(Container, ListTensorsReadsAPlainSafetensorsFile) {
  testing::TempDir dir;
  const float values[3] = {1.0f, 0.0f, 2.0f};
  const int32_t ints[2] = {0, 7};
  std::string data(reinterpret_cast<const char*>(values), 12);
  data += std::string(reinterpret_cast<const char*>(ints), 8);
  const Json header = {{"a", {{"dtype", "F32"}, {"shape", {3}}, {"data_offsets", {0, 12}}}},
                       {"b", {{"dtype", "I32"}, {"shape", {1, 2}}, {"data_offsets", {12, 20}}}}};
  write_file_atomic(dir.file("plain.safetensors"), make_safetensors(header, data));
  const auto records = list_tensors(dir.file("plain.safetensors"));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].encoding, "dense");
  EXPECT_EQ(records[0].nonzeros, 2);
  EXPECT_EQ(records[0].bytes, 12);
  EXPECT_EQ(records[1].encoding, "dense-I32");
  EXPECT_EQ(records[1].shape, (Shape{1, 2}));
  EXPECT_EQ(records[1].nonzeros, 1);

  EXPECT_EQ(bad_input_message([&] { load_model_shrk(dir.file("plain.safetensors")); }),
            "model file " + dir.file("plain.safetensors") +
                " is a safetensors file without a shrink graph (no \"format\": \"shrink\" in its "
                "__metadata__); only files saved by shrink can be loaded as models");
}

TEST(Container, MissingFileAndDirectoryAreBadInput) {
  testing::TempDir dir;
  const std::string missing = dir.file("missing.shrk");
  EXPECT_EQ(bad_input_message([&] { load_model_shrk(missing); }),
            "cannot open model file " + missing + ": No such file or directory");
  EXPECT_EQ(bad_input_message([&] { list_tensors(missing); }),
            "cannot open model file " + missing + ": No such file or directory");
  EXPECT_EQ(bad_input_message([&] { load_model_shrk(dir.path().string()); }),
            "cannot read model file " + dir.path().string() + ": it is a directory, not a file");
}

TEST(Container, TruncatedFileSaysHowLongItShouldBe) {
  const std::string bytes = serialize_model(make_model(8, 16, 3, 13));
  const Safetensors file = parse_safetensors(bytes);
  const std::string cut = bytes.substr(0, bytes.size() - 10);
  EXPECT_EQ(bad_input_message([&] { deserialize_model(cut, "m.shrk"); }),
            "model file m.shrk is truncated (" + std::to_string(cut.size()) + " bytes, header says " +
                std::to_string(bytes.size()) + ")");
  const std::string in_header = bytes.substr(0, 100);
  EXPECT_EQ(bad_input_message([&] { deserialize_model(in_header, "m.shrk"); }),
            "model file m.shrk is truncated (100 bytes, header says " +
                std::to_string(8 + file.header_length) + ")");
  EXPECT_EQ(bad_input_message([&] { deserialize_model(bytes.substr(0, 5), "m.shrk"); }),
            "model file m.shrk is truncated or not a .shrk file (5 bytes, the header length "
            "alone takes 8)");
  EXPECT_EQ(bad_input_message([&] { deserialize_model(bytes + "junk", "m.shrk"); }),
            "model file m.shrk has 4 bytes after its last tensor");
}

TEST(Container, GarbageAndWrongMagicAreRejected) {
  EXPECT_EQ(bad_input_message([&] { deserialize_model("this is not a model file at all", "g"); }),
            "model file g is not a .shrk or safetensors file (its first 8 bytes give a header "
            "length of 2338328219631577204 bytes)");
  std::string bytes = serialize_model(make_model(4, 4, 2, 14));
  bytes[8] = '[';
  EXPECT_EQ(bad_input_message([&] { deserialize_model(bytes, "g"); }),
            "model file g is not a .shrk or safetensors file (its header does not start with '{')");

  // A safetensors file that claims another format.
  Safetensors file = parse_safetensors(serialize_model(make_model(4, 4, 2, 14)));
  file.header["__metadata__"]["format"] = "pt";
  EXPECT_CONTAINS(bad_input_message([&] {
                    deserialize_model(make_safetensors(file.header, file.data), "g");
                  }),
                  "model file g is a safetensors file of format 'pt' without a shrink graph");
  file.header["__metadata__"]["format"] = "shrink";
  file.header["__metadata__"]["format_version"] = "2";
  EXPECT_CONTAINS(bad_input_message([&] {
                    deserialize_model(make_safetensors(file.header, file.data), "g");
                  }),
                  "has .shrk format version '2' but this build of shrink reads version 1");
}

TEST(Container, FlippedHeaderBytesNeverCrash) {
  const std::string bytes = serialize_model(make_model(4, 4, 2, 15));
  const Safetensors file = parse_safetensors(bytes);
  // A flip that breaks the JSON itself.
  std::string broken = bytes;
  broken[8 + file.header_text.find(':')] ^= 0x40;
  EXPECT_CONTAINS(bad_input_message([&] { deserialize_model(broken, "f"); }),
                  "model file f has a corrupt header (");
  // Every single-bit flip in the header either still loads or is a bad-input Error.
  int rejected = 0;
  for (size_t i = 8; i < 8 + file.header_length; ++i) {
    for (int bit : {0, 5}) {
      std::string flipped = bytes;
      flipped[i] ^= static_cast<char>(1 << bit);
      try {
        deserialize_model(flipped, "f");
      } catch (const Error& e) {
        ASSERT_EQ(e.kind(), Error::Kind::BadInput) << e.what();
        EXPECT_EQ(std::string(e.what()).rfind("model file f", 0), 0u) << e.what();
        ++rejected;
      }
    }
  }
  EXPECT_GT(rejected, static_cast<int>(file.header_length));
}

TEST(Container, TensorsThatDoNotFitTheGraphAreNamed) {
  Model model = make_model(4, 4, 2, 16);
  prune(model.parameter("fc1.weight"), 0.5, 17);
  const Safetensors file = parse_safetensors(serialize_model(model));
  auto load = [](const Json& header, const std::string& data) {
    return bad_input_message([&] { deserialize_model(make_safetensors(header, data), "t.shrk"); });
  };
  auto with_encodings = [&](const std::function<void(Json&)>& edit) {
    Json header = file.header;
    Json encodings = Json::parse(header["__metadata__"]["shrink.encodings"].get<std::string>());
    edit(encodings);
    header["__metadata__"]["shrink.encodings"] = encodings.dump();
    return header;
  };

  // The last tensor in storage order (fc2.bias) removed, with its bytes.
  {
    Json header = with_encodings([](Json& e) { e.erase("fc2.bias"); });
    const int64_t begin = header["fc2.bias"]["data_offsets"][0];
    header.erase("fc2.bias");
    EXPECT_EQ(load(header, file.data.substr(0, begin)),
              "model file t.shrk has no tensor for parameter fc2.bias of its graph");
  }
  // An extra tensor the graph does not have.
  {
    Json header = with_encodings([](Json& e) {
      e["extra.weight"] = {{"encoding", "dense"}, {"shape", {1}}, {"masked", false},
                           {"trainable", true}};
    });
    const int64_t end = file.data.size();
    header["extra.weight"] = {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {end, end + 4}}};
    EXPECT_EQ(load(header, file.data + std::string(4, '\0')),
              "model file t.shrk: tensor extra.weight is not a parameter of its graph");
  }
  // The graph wants another shape.
  {
    Json header = file.header;
    header["__metadata__"]["shrink.graph"] = chain_graph(4, 4, 3).dump();
    EXPECT_EQ(load(header, file.data),
              "model file t.shrk: tensor fc2.weight has shape [2, 4] but the graph's parameter "
              "needs [3, 4]");
  }
  // An encoding this build does not know.
  {
    const Json header = with_encodings([](Json& e) { e["fc1.weight"]["encoding"] = "huffman"; });
    EXPECT_EQ(load(header, file.data),
              "model file t.shrk: tensor fc1.weight uses unknown encoding 'huffman' (known: "
              "dense, sparse-bitmap, sparse-delta8, quantized, quantized-bitmap, quantized-delta8, "
              "quantized-huffman, quantized-bitmap-huffman, quantized-delta8-huffman, "
              "quantized-pair-huffman, quantized-bitmap-pair-huffman, quantized-delta8-pair-huffman); "
              "it may need a newer shrink");
  }
  // Masked but dense.
  {
    const Json header = with_encodings([](Json& e) { e["fc1.bias"]["masked"] = true; });
    EXPECT_EQ(load(header, file.data),
              "model file t.shrk: tensor fc1.bias is marked masked but encoding 'dense' cannot "
              "record a mask");
  }
  // A tensor without an encodings entry.
  {
    const Json header = with_encodings([](Json& e) { e.erase("fc1.bias"); });
    EXPECT_EQ(load(header, file.data),
              "model file t.shrk: tensor fc1.bias has no entry in \"shrink.encodings\"");
  }
  // Offsets that overlap.
  {
    Json header = file.header;
    header["fc1.bias"]["data_offsets"][0] = header["fc1.bias"]["data_offsets"][0].get<int64_t>() - 4;
    header["fc1.bias"]["data_offsets"][1] = header["fc1.bias"]["data_offsets"][1].get<int64_t>() - 4;
    EXPECT_CONTAINS(load(header, file.data), "model file t.shrk: tensor fc1.bias starts at data byte");
  }
  // Corrupt sparse bytes: the kept count claims more than the tensor holds.
  {
    std::string data = file.data;
    const int64_t begin = file.header["fc1.weight"]["data_offsets"][0];
    const Json encodings = Json::parse(file.header["__metadata__"]["shrink.encodings"].get<std::string>());
    if (encodings["fc1.weight"]["encoding"] == "sparse-delta8") {
      data[begin] = '\x7f';
      EXPECT_EQ(load(file.header, data),
                "model file t.shrk, tensor fc1.weight: sparse-delta8 says 127 elements are kept "
                "but the tensor has only 16");
    } else {
      data[begin] = static_cast<char>(data[begin] ^ 0x01);
      EXPECT_CONTAINS(load(file.header, data), "model file t.shrk, tensor fc1.weight: ");
    }
  }
}

}  // namespace
}  // namespace shrink
