// `shrink compress --quantize int8` end to end on a Fashion-MNIST subset: calibrated
// QuantizeLinear/DequantizeLinear in the saved graph, int8 weights at a quarter of the file,
// the per-layer SQNR table, quantization-aware fine-tuning, and bad flags as one clear error.
#include "support/cli.hpp"
#include "support/fashion_mnist_suite.hpp"
#include "support/temp_dir.hpp"

#include "shrink/core/random.hpp"
#include "shrink/io/tensor_file.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace shrink::testing {
namespace {

namespace fs = std::filesystem;

class Int8Cli : public FashionMnistMlpSuite<Int8Cli> {
 protected:
  static CliResult compress(const std::vector<std::string>& flags, const std::string& name) {
    std::vector<std::string> args = {"compress", model_, "--data", data_, "-o", dir_->file(name),
                                     "--report", dir_->file(name + ".json"), "--no-latency"};
    args.insert(args.end(), flags.begin(), flags.end());
    return run_cli(args);
  }
};

TEST_F(Int8Cli, QuantizesWeightsAndActivationsAndRanksTheLayers) {
  const CliResult r = compress({"--quantize", "int8", "--calibration", "percentile:99.99",
                                "--calibration-batches", "4"},
                               "int8.shrk");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("int8 activations (calibration percentile:99.99 on 512 samples"), std::string::npos)
      << r.out;
  const auto report = read_json(dir_->file("int8.shrk.json"));
  EXPECT_NEAR(report["accuracy_after"].get<double>(), report["accuracy_before"].get<double>(), 0.01);
  EXPECT_LE(report["file_bytes_after"].get<double>(), 0.27 * report["file_bytes_before"].get<double>());
  const auto& section = report["passes"][0];
  EXPECT_EQ(section["pass"], "quant.int8");
  ASSERT_EQ(section["activations"].size(), 3u);
  for (const auto& layer : report["layers"]) EXPECT_EQ(layer["bits"], 8);
  // The saved graph holds the pairs, and evaluates to the accuracy the job measured.
  const auto inspect = run_cli({"inspect", dir_->file("int8.shrk")});
  EXPECT_NE(inspect.out.find("QuantizeLinear"), std::string::npos) << inspect.out;
  EXPECT_NE(inspect.out.find("DequantizeLinear"), std::string::npos);
  // eval runs the int8 layers on int8 kernels (one sample of the 500 may flip where a sum sits
  // on a rounding boundary); SHRINK_INT8=off runs the graph the job measured, exactly.
  const auto eval = run_cli({"eval", dir_->file("int8.shrk"), "--data", data_, "--report",
                             dir_->file("int8-eval.json"), "-q"});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  const auto int8 = read_json(dir_->file("int8-eval.json"));
  EXPECT_EQ(int8["int8_layers"], 3);
  EXPECT_NEAR(int8["accuracy"].get<double>(), report["accuracy_after"].get<double>(), 0.0021);
  const auto off = run_command({"env", "SHRINK_INT8=off", SHRINK_CLI_PATH, "eval", dir_->file("int8.shrk"),
                                "--data", data_, "--report", dir_->file("int8-off.json"), "-q"});
  ASSERT_EQ(off.exit_code, 0) << off.err;
  const auto fake = read_json(dir_->file("int8-off.json"));
  EXPECT_EQ(fake["int8_layers"], 0);
  EXPECT_DOUBLE_EQ(fake["accuracy"].get<double>(), report["accuracy_after"].get<double>());
}

// inspect names the layers eval and run execute in int8, what each reads and writes; the
// SHRINK_INT8 switch turns the lowering off, and a bad value of it is a clear error.
TEST_F(Int8Cli, InspectSaysWhichLayersRunInt8) {
  ASSERT_EQ(compress({"--quantize", "int8", "--calibration-batches", "2"}, "lowered.shrk").exit_code, 0);
  const auto inspect = run_cli({"inspect", dir_->file("lowered.shrk")});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_NE(inspect.out.find("int8 execution (eval and run lower these layers"), std::string::npos)
      << inspect.out;
  EXPECT_NE(inspect.out.find("uint8 codes of fc2_quantize"), std::string::npos) << inspect.out;
  const auto json = run_cli({"inspect", dir_->file("lowered.shrk"), "--json"});
  const auto layers = nlohmann::json::parse(json.out)["int8"]["layers"];
  ASSERT_EQ(layers.size(), 3u);
  EXPECT_EQ(layers[0]["layer"], "fc1");
  EXPECT_EQ(layers[0]["relu"], "relu1");
  EXPECT_EQ(layers[0]["output"], "fc2_quantize");
  EXPECT_EQ(layers[2]["output_type"], "fp32");
  const auto off = run_command({"env", "SHRINK_INT8=off", SHRINK_CLI_PATH, "inspect", dir_->file("lowered.shrk")});
  EXPECT_NE(off.out.find("off by SHRINK_INT8=off"), std::string::npos) << off.out;
  expect_clear_error(run_command({"env", "SHRINK_INT8=fast", SHRINK_CLI_PATH, "eval",
                                  dir_->file("lowered.shrk"), "--data", data_, "-q"}),
                     "SHRINK_INT8=fast is not an int8 execution mode: auto (the default) or off");
  // The fp32 model has nothing to lower: no table.
  EXPECT_EQ(run_cli({"inspect", model_}).out.find("int8 execution"), std::string::npos);
}

// --quantize int8:reduce_range=on stores 7-bit weights, which the AVX2 int8 kernels (no VNNI)
// multiply in one pass; 8-bit weights there run as two halves, and inspect says so. Both give
// eval the QDQ graph's accuracy on that path.
TEST_F(Int8Cli, ReduceRangeRunsInOnePassWithoutVnni) {
  const CliResult r = compress({"--quantize", "int8:reduce_range=on", "--calibration-batches", "2"}, "rr.shrk");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("weights: 7-bit (reduce_range"), std::string::npos) << r.out;
  const auto report = read_json(dir_->file("rr.shrk.json"));
  EXPECT_EQ(report["passes"][0]["reduce_range"], true);
  for (const auto& layer : report["layers"]) EXPECT_EQ(layer["bits"], 7);
  EXPECT_NEAR(report["accuracy_after"].get<double>(), report["accuracy_before"].get<double>(), 0.01);
  const CliResult full = compress({"--quantize", "int8:reduce_range=off", "--calibration-batches", "2"}, "full.shrk");
  ASSERT_EQ(full.exit_code, 0) << full.err;
  EXPECT_EQ(full.out.find("weights: 7-bit"), std::string::npos) << full.out;
  for (const char* name : {"rr.shrk", "full.shrk"}) {
    const bool split = std::string(name) == "full.shrk";
    const auto avx2 = [&](std::vector<std::string> args) {
      args.insert(args.begin(), {"env", "SHRINK_ISA=avx2", SHRINK_CLI_PATH});
      return run_command(args);
    };
    const auto json = avx2({"inspect", dir_->file(name), "--json"});
    ASSERT_EQ(json.exit_code, 0) << json.err;
    const auto int8 = nlohmann::json::parse(json.out)["int8"];
    EXPECT_EQ(int8["kernels"], "avx2");
    ASSERT_EQ(int8["layers"].size(), 3u);
    for (const auto& layer : int8["layers"]) EXPECT_EQ(layer["split_weights"], split) << name;
    const auto text = avx2({"inspect", dir_->file(name)});
    EXPECT_EQ(text.out.find("3 of 3 layers run their weight as two halves") != std::string::npos, split)
        << text.out;
    const auto eval = avx2({"eval", dir_->file(name), "--data", data_, "--report", dir_->file("avx2.json"), "-q"});
    ASSERT_EQ(eval.exit_code, 0) << eval.err;
    const auto fake = run_command({"env", "SHRINK_INT8=off", SHRINK_CLI_PATH, "eval", dir_->file(name), "--data",
                                   data_, "--report", dir_->file("fake.json"), "-q"});
    ASSERT_EQ(fake.exit_code, 0) << fake.err;
    EXPECT_NEAR(read_json(dir_->file("avx2.json"))["accuracy"].get<double>(),
                read_json(dir_->file("fake.json"))["accuracy"].get<double>(), 0.0021)
        << name;
  }
  expect_clear_error(compress({"--quantize", "int8:reduce_range=maybe", "-q"}, "bad.shrk"),
                     "reduce_range must be \"auto\"");
}

TEST_F(Int8Cli, SkippedLayersStayFp32AndFineTuningIsQuantizationAware) {
  const CliResult r = compress({"--quantize", "int8", "--skip", "fc3", "--symmetric",
                                "--calibration-batches", "2", "--finetune-epochs", "1"},
                               "qat.shrk");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = read_json(dir_->file("qat.shrk.json"));
  EXPECT_EQ(report["passes"][1]["pass"], "train.finetune");
  const auto& activations = report["passes"][0]["activations"];
  ASSERT_EQ(activations.size(), 2u);
  for (const auto& a : activations) {
    EXPECT_EQ(a["type"], "int8");
    EXPECT_NE(a["layer"], "fc3");
  }
  for (const auto& layer : report["layers"])
    EXPECT_EQ(layer["format"], layer["name"] == "fc3.weight" ? "fp32" : "affine") << layer;
  EXPECT_GT(report["accuracy_after"].get<double>(), report["accuracy_before"].get<double>() - 0.02);
}

TEST_F(Int8Cli, OnnxOutputIsAQdqFileThatReadsBackAtTheSameAccuracy) {
  const CliResult r = compress({"--quantize", "int8", "--calibration", "entropy", "--calibration-batches", "2"},
                               "int8.onnx");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("dequantized to fp32"), std::string::npos) << "int8 weights stay int8: " << r.err;
  const auto report = read_json(dir_->file("int8.onnx.json"));
  EXPECT_LE(report["file_bytes_after"].get<double>(), 0.3 * report["file_bytes_before"].get<double>());
  const auto eval = run_cli({"eval", dir_->file("int8.onnx"), "--data", data_, "--report",
                             dir_->file("int8-onnx-eval.json"), "-q"});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_DOUBLE_EQ(read_json(dir_->file("int8-onnx-eval.json"))["accuracy"].get<double>(),
                   report["accuracy_after"].get<double>());
}

// int8:lsq=true learns the steps while fine-tuning; the exported QDQ file carries the learned
// scales, so shrink computes the same accuracy from it as from the model it trained.
TEST_F(Int8Cli, LearnedStepsGoIntoTheQdqExport) {
  const CliResult r = compress({"--quantize", "int8:lsq=true", "--calibration-batches", "2",
                                "--finetune-epochs", "1"},
                               "lsq.onnx");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("steps: learned (LSQ) while fine-tuning"), std::string::npos) << r.out;
  const auto report = read_json(dir_->file("lsq.onnx.json"));
  EXPECT_EQ(report["passes"][0]["lsq"], true);
  EXPECT_EQ(report["passes"][1]["pass"], "train.finetune");
  const auto eval = run_cli({"eval", dir_->file("lsq.onnx"), "--data", data_, "--report",
                             dir_->file("lsq-onnx-eval.json"), "-q"});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_NEAR(read_json(dir_->file("lsq-onnx-eval.json"))["accuracy"].get<double>(),
              report["accuracy_after"].get<double>(), 0.002);
}

// shrink run executes the int8 layers too: its logits match the QDQ graph's (SHRINK_INT8=off)
// up to the rounding of the requantized codes, with the same predicted classes.
TEST_F(Int8Cli, RunExecutesTheInt8LayersAsTheQdqGraphComputes) {
  ASSERT_EQ(compress({"--quantize", "int8", "--calibration-batches", "2"}, "run.shrk").exit_code, 0);
  Tensor x({8, 1, 28, 28});
  Rng rng(3);
  for (float& v : x) v = rng.uniform(0.0f, 1.0f);
  write_npy(x, dir_->file("x.npy"));
  const auto int8 = run_cli({"run", dir_->file("run.shrk"), "--input", dir_->file("x.npy"), "-o",
                             dir_->file("run-int8"), "-q"});
  ASSERT_EQ(int8.exit_code, 0) << int8.err;
  const auto off = run_command({"env", "SHRINK_INT8=off", SHRINK_CLI_PATH, "run", dir_->file("run.shrk"),
                                "--input", dir_->file("x.npy"), "-o", dir_->file("run-off"), "-q"});
  ASSERT_EQ(off.exit_code, 0) << off.err;
  const Tensor a = read_npy(fs::directory_iterator(dir_->file("run-int8"))->path().string());
  const Tensor b = read_npy(fs::directory_iterator(dir_->file("run-off"))->path().string());
  ASSERT_EQ(a.shape(), b.shape());
  float largest = 0.0f, difference = 0.0f;
  for (int64_t i = 0; i < a.numel(); ++i) {
    largest = std::max(largest, std::fabs(b[i]));
    difference = std::max(difference, std::fabs(a[i] - b[i]));
  }
  EXPECT_LE(difference, 0.05f * (1.0f + largest));
  const int64_t classes = a.dim(1);
  for (int64_t r = 0; r < a.dim(0); ++r)
    EXPECT_EQ(std::max_element(a.data() + r * classes, a.data() + (r + 1) * classes) - a.data(),
              std::max_element(b.data() + r * classes, b.data() + (r + 1) * classes) - b.data())
        << "sample " << r;
}

TEST_F(Int8Cli, BadInt8FlagsAreClearErrors) {
  const auto run = [&](std::vector<std::string> flags) {
    flags.push_back("-q");
    return compress(flags, "bad.shrk");
  };
  expect_clear_error(run({"--quantize", "int8", "--calibration", "kl"}),
                     "--calibration kl: unknown method 'kl'; known methods: minmax");
  expect_clear_error(run({"--quantize", "int8", "--calibration", "percentile:20"}), "(50, 100]");
  expect_clear_error(run({"--quantize", "int8", "--skip", "relu1"}),
                     "skip names 'relu1', which is not a layer int8 quantizes");
  expect_clear_error(run({"--quantize", "int8:4"}), "int8 takes no bit width");
  expect_clear_error(run({"--quantize", "int8:lsq=maybe"}), "option 'lsq' has the wrong type");
  expect_clear_error(run({"--quantize", "affine:8", "--calibration", "mse"}),
                     "--calibration, --calibration-batches and --skip go with --quantize int8");
  expect_clear_error(run({"--skip", "fc1"}), "need --quantize int8");
  // Calibration needs data.
  expect_clear_error(run_cli({"compress", model_, "--quantize", "int8", "--data",
                              dir_->file("missing.csv"), "-o", dir_->file("bad.shrk"), "-q"}),
                     "missing.csv");
  expect_clear_error(run_cli({"train", "--arch", "mlp", "--data", data_, "--quantize", "int8", "-o",
                              dir_->file("bad.shrk"), "-q"}),
                     "--quantize int8 calibrates a trained model's activations");
  EXPECT_FALSE(fs::exists(dir_->file("bad.shrk")));
}

}  // namespace
}  // namespace shrink::testing
