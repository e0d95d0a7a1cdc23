// `shrink compress --quantize pq` end to end on a Fashion-MNIST subset: weight rows product-
// quantized (sub-vectors of d on a per-layer codebook), the codebook fine-tuned, the file storing
// one code per sub-vector and evaluating to the accuracy the report claims, the ONNX export
// running at the same accuracy, pruned weights staying pruned, the example recipe, and bad
// options as one clear error.
#include "support/cli.hpp"
#include "support/fashion_mnist_suite.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

namespace shrink::testing {
namespace {

namespace fs = std::filesystem;

class ProductQuantizationCli : public FashionMnistMlpSuite<ProductQuantizationCli> {
 protected:
  static double accuracy_of(const std::string& model) {
    const std::string report = model + ".eval.json";
    const CliResult r = run_cli({"eval", model, "--data", data_, "--report", report, "-q"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? read_json(report)["accuracy"].get<double>() : -1.0;
  }
};

TEST_F(ProductQuantizationCli, FineTunedCodebooksStoreOneCodePerSubVectorAndEvaluateAsReported) {
  const std::string out = dir_->file("pq.shrk");
  const CliResult r = run_cli({"compress", model_, "--data", data_, "-o", out, "--report", dir_->file("pq.json"),
                               "-q", "--quantize", "pq:d=4,k=16", "--finetune-epochs", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = read_json(dir_->file("pq.json"));
  ASSERT_EQ(report["layers"].size(), 3u);
  for (const auto& layer : report["layers"]) {
    EXPECT_EQ(layer["format"], "pq");
    EXPECT_EQ(layer["bits"], 4) << "16 codewords";
    EXPECT_DOUBLE_EQ(layer["bits_per_weight"].get<double>(), 1.0) << "a 4-bit code per 4 weights";
    EXPECT_TRUE(layer["encoding"].get<std::string>().starts_with("quantized")) << layer;
  }
  // fc1 (64 x 784): 12,544 sub-vectors of 4 at 4 bits, 6,272 bytes packed, plus a 256-byte
  // codebook — one bit per weight, a thirty-second of its 200,704 fp32 bytes (Huffman may cut
  // the codes further).
  const auto& fc1 = report["layers"][0];
  EXPECT_LE(fc1["bytes"].get<double>(), 6272 + 256 + 32);
  EXPECT_GT(fc1["bytes"].get<double>(), 0.5 * 6272);
  EXPECT_GT(report["accuracy_after"].get<double>(), report["accuracy_before"].get<double>() - 0.05);
  EXPECT_DOUBLE_EQ(accuracy_of(out), report["accuracy_after"].get<double>());
  // ONNX holds the dequantized weights: any runtime runs it, at the same accuracy.
  const std::string onnx = dir_->file("pq.onnx");
  const CliResult converted = run_cli({"convert", out, onnx, "-q"});
  ASSERT_EQ(converted.exit_code, 0) << converted.err;
  EXPECT_DOUBLE_EQ(accuracy_of(onnx), report["accuracy_after"].get<double>());
  const CliResult inspect = run_cli({"inspect", out});
  // The format says d and k; the bits/w column what that costs a weight: 4 bits over 4 weights.
  EXPECT_NE(inspect.out.find("pq:d4k16,fp32       1 "), std::string::npos) << inspect.out;
  EXPECT_NE(r.out.find("bits/w"), std::string::npos) << r.out;
}

TEST_F(ProductQuantizationCli, PrunedWeightsStayPrunedUnderProductQuantization) {
  const std::string out = dir_->file("pruned-pq.shrk");
  const CliResult r = run_cli({"compress", model_, "--data", data_, "-o", out, "--report",
                               dir_->file("pruned-pq.json"), "-q", "--prune", "magnitude:0.5", "--quantize",
                               "pq:d=2,k=32", "--finetune-epochs", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = read_json(dir_->file("pruned-pq.json"));
  EXPECT_NEAR(report["sparsity"].get<double>(), 0.5, 0.01);
  for (const auto& layer : report["layers"])
    EXPECT_TRUE(layer["encoding"].get<std::string>().starts_with("quantized-")) << "positions stored: " << layer;
  const CliResult inspect = run_cli({"inspect", out});
  EXPECT_NE(inspect.out.find("weight sparsity 50.0%"), std::string::npos) << "the loaded masks keep the zeros\n"
                                                                            << inspect.out;
  EXPECT_DOUBLE_EQ(accuracy_of(out), report["accuracy_after"].get<double>());
}

TEST_F(ProductQuantizationCli, TheExampleRecipeRuns) {
  const std::string out = dir_->file("recipe.shrk");
  const CliResult r = run_cli({"compress", model_, "--data", data_, "-o", out, "--report", dir_->file("recipe.json"),
                               "-q", "--recipe",
                               std::string(SHRINK_SOURCE_DIR) + "/examples/recipes/product-quantization.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = read_json(dir_->file("recipe.json"));
  EXPECT_EQ(report["layers"][0]["format"], "pq");
  EXPECT_EQ(report["layers"][0]["bits"], 8);
  // Two bits per weight plus a 4 KiB codebook per layer, which these small layers feel.
  EXPECT_LE(report["file_bytes_after"].get<double>(), 0.15 * report["file_bytes_before"].get<double>());
}

TEST_F(ProductQuantizationCli, BadProductQuantizationFlagsAreClearErrors) {
  auto run = [&](const std::string& spec) {
    return run_cli({"compress", model_, "--data", data_, "-o", dir_->file("bad.shrk"), "-q", "--quantize", spec});
  };
  expect_clear_error(run("pq:d=0"), "d (the sub-vector length) must be in 1..4096, got 0");
  expect_clear_error(run("pq:k=1"), "k (codewords per layer) must be in 2..65536, got 1");
  expect_clear_error(run("pq:4,k=16"), "give the codebook size as k or as bits");
  expect_clear_error(run("pq:17"), "bits must be in 1..16, got 17");
  expect_clear_error(run("pq:d=4,size=3"), "size");
  EXPECT_FALSE(fs::exists(dir_->file("bad.shrk")));
}

}  // namespace
}  // namespace shrink::testing
