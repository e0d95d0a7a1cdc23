// Writes seed inputs for the fuzz targets that the test fixtures do not hold as files:
//   fuzz_make_seeds SOURCE_DIR OUTPUT_DIR
// OUTPUT_DIR/<target>/ receives .shrk models in every encoding the passes produce, architecture
// JSON of every built-in, recipes naming every pass, IDX and CSV files. Models come from the
// ONNX fixtures under SOURCE_DIR and from the built-in architectures, so a new op, pass or
// encoding reaches the fuzzer's seeds without a line here.
#include "shrink/compress/pass.hpp"
#include "shrink/core/error.hpp"
#include "shrink/io/container.hpp"
#include "shrink/io/onnx.hpp"
#include "shrink/io/tensor_file.hpp"
#include "shrink/nn/architectures.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using shrink::Model;
using Json = nlohmann::json;

void write(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string big_endian(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

std::string gzip(const std::string& bytes) {
  z_stream stream{};
  deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&stream, bytes.size()) + 32, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  stream.avail_in = static_cast<uInt>(bytes.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

// Small models: the ONNX fixtures and the built-in architectures at small sizes.
std::vector<std::pair<std::string, Model>> models(const fs::path& source) {
  std::vector<std::pair<std::string, Model>> list;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(source / "tests/fixtures/onnx"))
    if (fs::exists(entry.path() / "model.onnx")) files.push_back(entry.path() / "model.onnx");
  std::sort(files.begin(), files.end());
  for (const fs::path& file : files) {
    try {
      list.emplace_back(file.parent_path().filename().string(), shrink::load_onnx(file.string()));
    } catch (const shrink::Error&) {
      // Fixtures of import errors: the onnx target gets them as files.
    }
  }
  const Json small = {{"mlp", {{"hidden", {16}}}},
                      {"vgg-small", {{"channels", {4, 8}}}},
                      {"resnet-small", {{"width", 4}}}};
  for (const auto& info : shrink::list_architectures()) {
    if (info.name.find('.') != std::string::npos) continue;  // FILE.json
    Json options = small.value(info.name, Json::object());
    options["seed"] = 1;
    list.emplace_back(info.name, shrink::build_architecture(info.name, {1, 28, 28}, 10, options));
  }
  return list;
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc != 3) {
    std::fprintf(stderr, "usage: fuzz_make_seeds SOURCE_DIR OUTPUT_DIR\n");
    return 2;
  }
  const fs::path source = argv[1], out = argv[2];
  int written = 0;
  auto seed = [&](const std::string& target, const std::string& name, const std::string& bytes) {
    write(out / target / name, bytes);
    ++written;
  };

  // Every pass that runs without data, alone, with its default options: each new encoding a
  // pass produces ends up in a seed.
  std::vector<shrink::Recipe> recipes;
  for (const std::string& pass : shrink::pass_names()) {
    const Json recipe = {{"passes", {{{"pass", pass}}}}};
    seed("recipe", pass + ".json", recipe.dump(2));
    try {
      recipes.push_back(shrink::Recipe::from_json(recipe));
    } catch (const shrink::Error&) {
      // A pass whose options have no defaults.
    }
  }
  recipes.push_back(shrink::Recipe::from_json(
      {{"passes", {{{"pass", "prune.magnitude"}, {"sparsity", 0.5}}}}}));
  recipes.push_back(shrink::Recipe::from_json(
      {{"passes", {{{"pass", "prune.magnitude"}, {"sparsity", 0.95}, {"scope", "layer"}}}}}));
  // Deep Compression's storage: pruned and shared at 4 bits, so the writer picks Huffman-coded
  // gaps and codes, the codes in pairs where that is smaller (quantized-*-pair-huffman).
  recipes.push_back(shrink::Recipe::from_json(
      {{"passes", {{{"pass", "prune.magnitude"}, {"sparsity", 0.9}, {"scope", "layer"}},
                   {{"pass", "quant.kmeans"}, {"conv_bits", 4}, {"fc_bits", 4}}}}}));

  for (auto& [name, model] : models(source)) {
    seed("shrk", name + ".shrk", shrink::serialize_model(model));
    seed("architecture", name + ".json", model.graph_json().dump(1));
    for (size_t r = 0; r < recipes.size(); ++r) {
      Model copy = model.clone();
      try {
        shrink::PassContext context;
        recipes[r].run(copy, context);
      } catch (const shrink::Error&) {
        continue;  // the pass needs data or does not apply to this model
      }
      seed("shrk", name + "-recipe" + std::to_string(r) + ".shrk", shrink::serialize_model(copy));
    }
  }

  std::string images = big_endian(0x803) + big_endian(3) + big_endian(4) + big_endian(5);
  for (int i = 0; i < 3 * 4 * 5; ++i) images += static_cast<char>(i * 37);
  const std::string labels = big_endian(0x801) + big_endian(3) + std::string("\x01\x00\x09", 3);
  seed("idx", "images", images);
  seed("idx", "images.gz", gzip(images));
  seed("idx", "labels", labels);
  seed("idx", "labels.gz", gzip(labels));

  // The csv target reads its first byte as "has a header row" (odd) or not.
  seed("csv", "plain.csv",
       std::string(1, '\0') + "5.1,3.5,1.4,0.2,0\n4.9,3.0,1.4,0.2,1\n\n6.3,3.3,6.0,2.5,2\r\n");
  seed("csv", "header.csv", std::string(1, '\1') + "a, b ,label\n1e-3,-2,0\n4,5,1\n");

  for (const shrink::Shape& shape : std::vector<shrink::Shape>{{}, {3}, {2, 3}, {1, 1, 2, 2}}) {
    shrink::Tensor t(shape, 0.5f);
    seed("npy", "rank" + std::to_string(shape.size()) + ".npy", shrink::encode_npy(t));
  }
  std::printf("wrote %d seeds into %s\n", written, out.c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
