// `shrink compress --quantize kmeans` end to end on a Fashion-MNIST subset: pruned weights shared
// by k-means at 5 bits (fully connected), centroids fine-tuned, the file stores codes and
// codebooks (Huffman-coded when smaller), evaluates to the accuracy the report claims, and bad
// flags and corrupted Huffman streams are one clear error.
#include "shrink/core/file.hpp"
#include "shrink/core/random.hpp"
#include "shrink/io/container.hpp"
#include "shrink/io/tensor_encoding.hpp"
#include "shrink/nn/model.hpp"
#include "support/cli.hpp"
#include "support/fashion_mnist_suite.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

namespace shrink::testing {
namespace {

namespace fs = std::filesystem;

class KMeansCli : public FashionMnistMlpSuite<KMeansCli> {};

TEST_F(KMeansCli, PrunedSharedAndFineTunedWeightsStoreAsCodesAndEvaluateAsReported) {
  const std::string out = dir_->file("dc.shrk");
  const CliResult r = run_cli({"compress", model_, "--data", data_, "-o", out, "--report",
                               dir_->file("dc.json"), "-q", "--prune", "magnitude:0.8",
                               "--quantize", "kmeans", "--finetune-epochs", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = read_json(dir_->file("dc.json"));
  ASSERT_EQ(report["layers"].size(), 3u);
  for (const auto& layer : report["layers"]) {
    EXPECT_EQ(layer["format"], "kmeans");
    EXPECT_EQ(layer["bits"], 5) << "fully connected layers share 32 values";
    const std::string encoding = layer["encoding"];
    EXPECT_TRUE(encoding.starts_with("quantized-bitmap") || encoding.starts_with("quantized-delta8")) << layer;
    // The entropy of codes and gaps, against the bytes spent: Huffman comes within its tables.
    EXPECT_GT(layer["entropy_bytes"].get<double>(), 0.0);
    EXPECT_GT(layer["bytes"].get<double>(), layer["entropy_bytes"].get<double>());
  }
  EXPECT_TRUE(report["layers"][0]["encoding"].get<std::string>().ends_with("-huffman"))
      << "the large first layer's codes and gaps are skewed";
  EXPECT_LE(report["file_bytes_after"].get<double>(), 0.08 * report["file_bytes_before"].get<double>());
  EXPECT_GT(report["accuracy_after"].get<double>(), report["accuracy_before"].get<double>() - 0.05);
  const auto eval = run_cli({"eval", out, "--data", data_, "--report", dir_->file("dc-eval.json"), "-q"});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_DOUBLE_EQ(read_json(dir_->file("dc-eval.json"))["accuracy"].get<double>(),
                   report["accuracy_after"].get<double>());
  const auto inspect = run_cli({"inspect", out});
  EXPECT_NE(inspect.out.find("kmeans:5"), std::string::npos) << inspect.out;
  EXPECT_NE(inspect.out.find("entropy bytes"), std::string::npos) << inspect.out;
}

// One Linear layer 100 -> 300 with 8% of its weights kept, shared by k-means at `bits`.
Model pruned_shared_layer(int bits) {
  Model model = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {100}}}},
       {"nodes", {{{"name", "fc"}, {"type", "Linear"}, {"attributes", {{"out_features", 300}}}}}}});
  model.initialize(1);
  Parameter& w = model.parameter("fc.weight");
  w.mask = Tensor(w.value.shape(), 1.0f);
  Rng rng(4);
  for (float& m : w.mask) m = rng.uniform() < 0.08f ? 1.0f : 0.0f;
  w.apply_mask();
  w.set_quantizer(make_quantizer("kmeans", {{"bits", bits}}, w.value));
  return model;
}

TEST(KMeansCliFiles, ACorruptedHuffmanStreamIsAClearError) {
  TempDir dir;
  // A pruned, shared layer whose writer picks the Huffman-coded gaps and codes.
  Model model = pruned_shared_layer(5);
  Parameter& w = model.parameter("fc.weight");
  const TensorEncoding& row = choose_tensor_encoding(w);
  // Its codes one by one or in pairs: the gap block is the same.
  ASSERT_TRUE(std::string_view(row.name).starts_with("quantized-delta8-")) << row.name;
  std::string payload;
  row.encode(w, payload);
  std::string file = serialize_model(model);
  const size_t at = file.find(payload);
  ASSERT_NE(at, std::string::npos);
  // The gap block's first code-length byte, after the header (141 bytes) and the kept count.
  file[at + 141 + 4] = static_cast<char>(0xFF);
  const std::string path = dir.file("corrupt.shrk");
  write_file_atomic(path, file);
  expect_clear_error(run_cli({"inspect", path}), "do not form a complete prefix code");
  expect_clear_error(run_cli({"eval", path, "--data", "fashion-mnist"}), "fc.weight");
}

TEST(KMeansCliFiles, ACorruptedPairBlockIsAClearError) {
  TempDir dir;
  // A pruned layer shared at 4 bits, whose writer codes the codes in pairs.
  Model model = pruned_shared_layer(4);
  Parameter& w = model.parameter("fc.weight");
  const TensorEncoding& row = choose_tensor_encoding(w);
  ASSERT_STREQ(row.name, "quantized-delta8-pair-huffman");
  std::string payload;
  row.encode(w, payload);
  std::string file = serialize_model(model);
  const size_t at = file.find(payload);
  ASSERT_NE(at, std::string::npos);
  // The pair block's 10 bytes of half-bit lengths follow the header (76 bytes), the kept count
  // and the gap block (128 bytes of code lengths, the u32 stream length, the stream).
  const size_t gaps = 76 + 4;
  size_t stream = 0;
  for (size_t i = 0; i < 4; ++i) stream |= size_t{static_cast<unsigned char>(payload[gaps + 128 + i])} << (8 * i);
  for (size_t i = 0; i < 10; ++i) file[at + gaps + 128 + 4 + stream + i] = '\0';
  const std::string path = dir.file("corrupt.shrk");
  write_file_atomic(path, file);
  expect_clear_error(run_cli({"inspect", path}), "gives a length to 0 symbols; a pair block codes two or more");
  expect_clear_error(run_cli({"eval", path, "--data", "fashion-mnist"}), "fc.weight");
}

// examples/recipes/deep-compression.json (for LeNet-300-100: per-layer pruning, fine-tuning,
// k-means, centroid fine-tuning) runs end to end, and the report gives the size and accuracy
// after every pass, with and without Huffman coding.
TEST_F(KMeansCli, TheDeepCompressionRecipeReportsEachStage) {
  const std::string base = dir_->file("lenet300.shrk");
  const CliResult trained = run_cli({"train", "--arch", "lenet-300-100", "--data", data_, "--epochs", "2",
                                     "--threads", "2", "-q", "-o", base});
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  const std::string out = dir_->file("lenet300-dc.shrk");
  const CliResult r = run_cli({"compress", base, "--data", data_, "-o", out, "--report",
                               dir_->file("lenet300-dc.json"), "--latency-batches", "1", "--recipe",
                               std::string(SHRINK_SOURCE_DIR) + "/examples/recipes/deep-compression.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("without Huffman"), std::string::npos) << r.out;
  const auto report = read_json(dir_->file("lenet300-dc.json"));
  const auto& stages = report["stages"];
  ASSERT_EQ(stages.size(), 10u) << "the original and nine passes";
  EXPECT_EQ(stages[0]["stage"], "original");
  EXPECT_EQ(stages[0]["bytes"], report["file_bytes_before"]);
  EXPECT_EQ(stages[8]["stage"], "quant.kmeans");
  EXPECT_EQ(stages[9]["bytes"], report["file_bytes_after"]) << "the last stage is the saved file";
  EXPECT_EQ(stages[9]["accuracy"], report["accuracy_after"]);
  // Pruning alone stores fp32 kept values; sharing cuts that, and Huffman further.
  const double pruned = stages[7]["bytes"].get<double>();
  EXPECT_LT(stages[8]["bytes_without_entropy_coding"].get<double>(), 0.5 * pruned);
  EXPECT_LT(stages[8]["bytes"].get<double>(), stages[8]["bytes_without_entropy_coding"].get<double>());
  EXPECT_NEAR(stages[9]["sparsity"].get<double>(), 0.946, 0.01);
  EXPECT_GT(report["compression_ratio"].get<double>(), 40.0);
}

TEST_F(KMeansCli, BadKMeansFlagsAreClearErrors) {
  auto run = [&](const std::string& spec) {
    return run_cli({"compress", model_, "--data", data_, "-o", dir_->file("bad.shrk"), "-q",
                    "--quantize", spec});
  };
  expect_clear_error(run("kmeans:9"), "bits must be in 1..8, got 9");
  expect_clear_error(run("kmeans:4,init=random"), "init must be 'linear'");
  expect_clear_error(run("kmeans:4,seed=-3"), "seed must not be negative");
  EXPECT_FALSE(fs::exists(dir_->file("bad.shrk")));
}

}  // namespace
}  // namespace shrink::testing
