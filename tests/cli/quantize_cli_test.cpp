// `shrink compress --quantize` and `shrink train --quantize` end to end on a Fashion-MNIST
// subset: the file stores the weights at their bit width, loads back the same model, reports
// each layer, and bad flags are one clear error.
#include "support/cli.hpp"
#include "support/fashion_mnist_suite.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

namespace shrink::testing {
namespace {

namespace fs = std::filesystem;

class QuantizeCli : public FashionMnistMlpSuite<QuantizeCli> {
 protected:
  // Runs compress with `flags` into `name`; returns its report.
  static nlohmann::json compress(const std::vector<std::string>& flags, const std::string& name) {
    std::vector<std::string> args = {"compress", model_, "--data", data_, "-o", dir_->file(name),
                                     "--report", dir_->file(name + ".json"), "-q"};
    args.insert(args.end(), flags.begin(), flags.end());
    const CliResult r = run_cli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? read_json(dir_->file(name + ".json")) : nlohmann::json();
  }
};

TEST_F(QuantizeCli, EightBitPerChannelKeepsAccuracyInAQuarterOfTheBytes) {
  const auto report = compress({"--quantize", "affine:8", "--per-channel", "--symmetric"}, "q8.shrk");
  ASSERT_FALSE(report.is_null());
  EXPECT_NEAR(report["accuracy_after"].get<double>(), report["accuracy_before"].get<double>(), 0.01);
  EXPECT_LE(report["file_bytes_after"].get<double>(), 0.28 * report["file_bytes_before"].get<double>());
  ASSERT_EQ(report["layers"].size(), 3u);
  for (const auto& layer : report["layers"]) {
    EXPECT_EQ(layer["format"], "affine");
    EXPECT_EQ(layer["bits"], 8);
    // Packed codes, or Huffman-coded ones when the writer finds them smaller.
    EXPECT_TRUE(layer["encoding"] == "quantized" || layer["encoding"] == "quantized-huffman") << layer;
    EXPECT_LT(layer["bytes"].get<int64_t>(), layer["fp32_bytes"].get<int64_t>() / 3);
    EXPECT_LT(layer["relative_mse"].get<double>(), 1e-3);
  }
  // The saved model evaluates to the accuracy the job measured, and inspect names the format.
  const auto eval = run_cli({"eval", dir_->file("q8.shrk"), "--data", data_, "--report",
                             dir_->file("q8-eval.json"), "-q"});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_DOUBLE_EQ(read_json(dir_->file("q8-eval.json"))["accuracy"].get<double>(),
                   report["accuracy_after"].get<double>());
  const auto inspect = run_cli({"inspect", dir_->file("q8.shrk")});
  EXPECT_NE(inspect.out.find("quantized"), std::string::npos) << inspect.out;
}

TEST_F(QuantizeCli, PrunedThenQuantizedAndFineTunedStaysBoth) {
  const auto report = compress({"--prune", "magnitude:0.8", "--quantize", "affine:4",
                                "--per-channel", "--finetune-epochs", "1"},
                               "pq.shrk");
  ASSERT_FALSE(report.is_null());
  EXPECT_NEAR(report["sparsity"].get<double>(), 0.8, 0.02);
  for (const auto& layer : report["layers"]) {
    EXPECT_EQ(layer["bits"], 4);
    const std::string encoding = layer["encoding"];
    EXPECT_TRUE(encoding.starts_with("quantized-bitmap") || encoding.starts_with("quantized-delta8")) << layer;
  }
  EXPECT_LE(report["file_bytes_after"].get<double>(), 0.1 * report["file_bytes_before"].get<double>());
  // The baseline trained only 2 epochs on 2,000 images: fine-tuning makes up for what 80% pruning
  // and 4 bits took.
  EXPECT_GT(report["accuracy_after"].get<double>(), report["accuracy_before"].get<double>() - 0.05);
}

TEST_F(QuantizeCli, TrainQuantizedFromScratch) {
  const std::string out = dir_->file("trained-q4.shrk");
  const auto r = run_cli({"train", "--arch", "mlp", "--hidden", "64", "32", "--data", data_, "--epochs",
                          "2", "--threads", "2", "--quantize", "affine:4,range=mse", "--per-channel",
                          "-q", "-o", out, "--report", dir_->file("trained-q4.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = read_json(dir_->file("trained-q4.json"));
  // As good as the fp32 model the suite trained the same way (2 epochs, same seed), within 5
  // points: 4-bit weights train from scratch.
  const auto fp32 = run_cli({"eval", model_, "--data", data_, "--report", dir_->file("fp32-eval.json"), "-q"});
  ASSERT_EQ(fp32.exit_code, 0) << fp32.err;
  EXPECT_GT(report["accuracy"].get<double>(),
            read_json(dir_->file("fp32-eval.json"))["accuracy"].get<double>() - 0.05);
  EXPECT_EQ(report["at_init"][0]["pass"], "quant.affine");
  const auto inspect = nlohmann::json::parse(run_cli({"inspect", out, "--json"}).out);
  int quantized = 0;
  for (const auto& layer : inspect["layers"])
    for (const auto& encoding : layer["encodings"])
      quantized += encoding == "quantized" || encoding == "quantized-huffman" || encoding == "quantized-pair-huffman";
  EXPECT_EQ(quantized, 3);
}

TEST_F(QuantizeCli, OnnxOutputHoldsTheDequantizedWeightsAndSaysSo) {
  const std::string out = dir_->file("q4.onnx");
  const auto r = run_cli({"compress", model_, "--quantize", "affine:4", "--data", data_, "-o", out,
                          "--report", dir_->file("q4-onnx.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("dequantized to fp32"), std::string::npos) << r.err;
  const auto eval = run_cli({"eval", out, "--data", data_, "--report", dir_->file("q4-onnx-eval.json"), "-q"});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_DOUBLE_EQ(read_json(dir_->file("q4-onnx-eval.json"))["accuracy"].get<double>(),
                   read_json(dir_->file("q4-onnx.json"))["accuracy_after"].get<double>());
}

TEST_F(QuantizeCli, BadQuantizeFlagsAreClearErrors) {
  auto run = [&](std::vector<std::string> flags) {
    std::vector<std::string> args = {"compress", model_, "--data", data_, "-o", dir_->file("bad.shrk"), "-q"};
    args.insert(args.end(), flags.begin(), flags.end());
    return run_cli(args);
  };
  expect_clear_error(run({"--quantize", "int3"}), "--quantize int3: unknown format 'int3'");
  expect_clear_error(run({"--quantize", "affine:12"}), "bits must be in 2..8, got 12");
  expect_clear_error(run({"--quantize", "affine:high"}), "give the bit width as an integer");
  expect_clear_error(run({"--quantize", "affine:4,rnage=mse"}), "unknown option 'rnage'");
  expect_clear_error(run({"--quantize", "affine:4", "--layer-bits", "fc1"}),
                     "--layer-bits fc1: write it as LAYER=BITS");
  expect_clear_error(run({"--quantize", "affine:4", "--quantize-exclude", "conv9"}),
                     "cannot exclude 'conv9'");
  expect_clear_error(run({"--per-channel"}), "need --quantize");
  EXPECT_FALSE(fs::exists(dir_->file("bad.shrk")));
}

}  // namespace
}  // namespace shrink::testing
