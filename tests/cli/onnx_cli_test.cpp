// shrink convert, run and compress on ONNX files, end to end through the binary.
#include "shrink/core/file.hpp"
#include "shrink/io/model_file.hpp"
#include "shrink/io/tensor_file.hpp"
#include "shrink/nn/weights.hpp"
#include "support/cli.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

namespace shrink::testing {
namespace {

namespace fs = std::filesystem;

// The shared runner takes an argument vector; these tests read better as one command line.
CliResult run_line(const std::string& line) {
  std::vector<std::string> args;
  std::istringstream words(line);
  for (std::string word; words >> word;) args.push_back(word);
  return run_cli(args);
}

std::string fixture(const std::string& path) {
  return (fs::path(SHRINK_SOURCE_DIR) / "tests" / "fixtures" / "onnx" / path).string();
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  if (a.shape() != b.shape()) return INFINITY;
  float diff = 0;
  for (int64_t i = 0; i < a.numel(); ++i) diff = std::max(diff, std::abs(a[i] - b[i]));
  return diff;
}

TEST(OnnxCli, RunWritesOutputsInTheInputsFormat) {
  TempDir tmp;
  const Tensor expected = read_npy(fixture("lenet5/output.npy"));
  CliResult r = run_line("run " + fixture("lenet5/model.onnx") + " --input input=" +
                        fixture("lenet5/input.npy") + " --output-dir " + tmp.path().string());
  ASSERT_EQ(r.exit_code, 0) << (r.out + r.err);
  EXPECT_NE((r.out + r.err).find("output"), std::string::npos);
  EXPECT_LE(max_abs_diff(read_npy(tmp.file("output.npy")), expected), 1e-4f);

  r = run_line("run " + fixture("mlp/model.onnx") + " --input " + fixture("mlp/input.pb") +
              " --output-dir " + tmp.path().string());
  ASSERT_EQ(r.exit_code, 0) << (r.out + r.err);
  std::string name;
  const Tensor pb = read_tensor_pb(tmp.file("output.pb"), &name);
  EXPECT_EQ(name, "output");
  EXPECT_LE(max_abs_diff(pb, read_npy(fixture("mlp/output.npy"))), 1e-4f);
}

TEST(OnnxCli, RunCreatesTheOutputDirectory) {
  TempDir tmp;
  const fs::path dir = tmp.path() / "outputs" / "lenet5";
  CliResult r = run_line("run " + fixture("lenet5/model.onnx") + " --input " +
                         fixture("lenet5/input.npy") + " --output-dir " + dir.string());
  ASSERT_EQ(r.exit_code, 0) << (r.out + r.err);
  EXPECT_LE(max_abs_diff(read_npy((dir / "output.npy").string()),
                         read_npy(fixture("lenet5/output.npy"))),
            1e-4f);
  // A file where the directory should be is bad input, and a failed run creates nothing.
  write_file_atomic(tmp.file("taken"), "x");
  r = run_line("run " + fixture("lenet5/model.onnx") + " --input " + fixture("lenet5/input.npy") +
               " --output-dir " + tmp.file("taken"));
  EXPECT_EQ(r.exit_code, 2) << (r.out + r.err);
  EXPECT_NE(r.err.find("cannot create the output directory"), std::string::npos) << r.err;
  r = run_line("run " + fixture("lenet5/model.onnx") + " --input " + fixture("mlp/output.npy") +
               " --output-dir " + tmp.file("never"));
  EXPECT_EQ(r.exit_code, 2) << (r.out + r.err);
  EXPECT_FALSE(fs::exists(tmp.file("never")));
}

TEST(OnnxCli, RunTakesOneInputPerGraphInput) {
  TempDir tmp;
  const std::string model = fixture("two_inputs_mul_add/model.onnx");
  const std::string a = fixture("two_inputs_mul_add/input_0.npy");
  const std::string b = fixture("two_inputs_mul_add/input_1.npy");
  CliResult r = run_line("run " + model + " --input b=" + b + " --input a=" + a +
                         " --output-dir " + tmp.path().string());
  ASSERT_EQ(r.exit_code, 0) << (r.out + r.err);
  EXPECT_LE(max_abs_diff(read_npy(tmp.file("y.npy")), read_npy(fixture("two_inputs_mul_add/output.npy"))),
            1e-6f);

  r = run_line("run " + model + " --input a=" + a + " --output-dir " + tmp.path().string());
  EXPECT_EQ(r.exit_code, 2) << (r.out + r.err);
  EXPECT_NE(r.err.find("no --input for the model input 'b'"), std::string::npos) << r.err;
  r = run_line("run " + model + " --input " + a + " --output-dir " + tmp.path().string());
  EXPECT_EQ(r.exit_code, 2) << (r.out + r.err);
  EXPECT_NE(r.err.find("one --input NAME=FILE for each"), std::string::npos) << r.err;
  r = run_line("run " + model + " --input a=" + a + " --input a=" + a + " --input b=" + b);
  EXPECT_EQ(r.exit_code, 2) << (r.out + r.err);
  EXPECT_NE(r.err.find("given twice"), std::string::npos) << r.err;
  r = run_line("run " + model + " --input a=" + a + " --input b=" + fixture("mlp/input.npy"));
  EXPECT_EQ(r.exit_code, 2) << (r.out + r.err);
  EXPECT_NE(r.err.find("model input 'b' takes [N, 4]"), std::string::npos) << r.err;
}

// A weight given as a graph input and an operand that does not share the batch axis are read
// with --input like any other input; without them the run fails with one line saying so.
TEST(OnnxCli, RunReadsWeightInputsAsConstants) {
  TempDir tmp;
  const std::string dir = fixture("inputs_read_as_constants/");
  const std::string model = dir + "model.onnx";
  CliResult r = run_line("run " + model + " --input s=" + dir + "input_2.npy --input x=" + dir +
                         "input_0.npy --input W=" + dir + "input_1.npy --output-dir " +
                         tmp.path().string() + " --report -");
  ASSERT_EQ(r.exit_code, 0) << (r.out + r.err);
  EXPECT_LE(max_abs_diff(read_npy(tmp.file("y.npy")), read_npy(dir + "output.npy")), 1e-5f);
  EXPECT_NE(r.out.find("read_as_constant"), std::string::npos) << r.out;

  r = run_line("run " + model + " --input x=" + dir + "input_0.npy --input s=" + dir +
               "input_2.npy --output-dir " + tmp.path().string());
  EXPECT_EQ(r.exit_code, 2) << (r.out + r.err);
  EXPECT_TRUE(r.err.starts_with("error: ")) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("--input W=FILE"), std::string::npos) << r.err;
}

// ONNX keeps no masks: a pruned model that went through it comes back with zeros but nothing
// that keeps them zero. convert warns, and --masks-from-zeros rebuilds the masks.
TEST(OnnxCli, ConvertRebuildsMasksFromZerosOrWarns) {
  TempDir tmp;
  Model model = read_model(fixture("mlp/model.onnx"));
  Parameter& fc1 = model.parameter("fc1.weight");
  for (int64_t i = 0; i < fc1.value.numel(); ++i)
    if (i % 10 != 0) fc1.value[i] = 0.0f;
  write_model(model, tmp.file("pruned.onnx"));

  CliResult r = run_line("convert " + tmp.file("pruned.onnx") + " " + tmp.file("plain.shrk"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("no pruning mask (fc1.weight 90%)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--masks-from-zeros"), std::string::npos) << r.err;
  EXPECT_FALSE(read_model(tmp.file("plain.shrk")).parameter("fc1.weight").has_mask());

  r = run_line("convert " + tmp.file("pruned.onnx") + " " + tmp.file("masked.shrk") +
               " --masks-from-zeros");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("no pruning mask"), std::string::npos) << r.err;
  const Model masked = read_model(tmp.file("masked.shrk"));
  const Parameter& p = masked.parameter("fc1.weight");
  ASSERT_TRUE(p.has_mask());
  for (int64_t i = 0; i < p.value.numel(); ++i)
    ASSERT_EQ(p.mask[i], i % 10 == 0 ? 1.0f : 0.0f) << i;
  EXPECT_FALSE(masked.parameter("fc2.weight").has_mask());  // dense weights stay unmasked
}

TEST(OnnxCli, ConvertsBothWaysAndStoresNormalization) {
  TempDir tmp;
  const std::string shrk = tmp.file("resnet.shrk");
  CliResult r = run_line("convert " + fixture("small_resnet/model.onnx") + " " + shrk +
                        " --mean 0.2860 --std 0.3530");
  ASSERT_EQ(r.exit_code, 0) << (r.out + r.err);
  const Model model = read_model(shrk);
  EXPECT_FLOAT_EQ(model.metadata["normalization"]["mean"][0].get<float>(), 0.2860f);
  EXPECT_FLOAT_EQ(model.metadata["normalization"]["std"][0].get<float>(), 0.3530f);
  EXPECT_NEAR(model.metadata["normalization"]["scale"].get<double>(), 1.0 / 255.0, 1e-9);

  const std::string onnx = tmp.file("back.onnx");
  r = run_line("convert " + shrk + " " + onnx);
  ASSERT_EQ(r.exit_code, 0) << (r.out + r.err);
  r = run_line("run " + onnx + " --input input=" + fixture("small_resnet/input.npy") +
              " --output-dir " + tmp.path().string());
  ASSERT_EQ(r.exit_code, 0) << (r.out + r.err);
  EXPECT_LE(max_abs_diff(read_npy(tmp.file("output.npy")), read_npy(fixture("small_resnet/output.npy"))),
            1e-4f);
  EXPECT_EQ(read_model(onnx).metadata["normalization"], model.metadata["normalization"]);
}

TEST(OnnxCli, CompressesAnOnnxModelBackToOnnxAndSaysItStaysDense) {
  TempDir tmp;
  if (!write_fashion_mnist_subset(tmp.path().string(), 500, 200))
    GTEST_SKIP() << "Fashion-MNIST is not installed (dataset-fashion-mnist)";
  const std::string out = tmp.file("pruned.onnx");
  const CliResult r = run_line("compress " + fixture("mlp/model.onnx") +
                               " --prune magnitude:0.5 --data fashion-mnist:" +
                               tmp.path().string() + " --threads 2 -o " + out);
  ASSERT_EQ(r.exit_code, 0) << r.out + r.err;
  EXPECT_NE(r.err.find("dense"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(".shrk"), std::string::npos) << r.err;
  EXPECT_NEAR(weight_sparsity(read_model(out)).sparsity(), 0.5, 0.01);
}

TEST(OnnxCli, BadInputExitsWithTwoAndSaysWhy) {
  TempDir tmp;
  CliResult r = run_line("convert " + fixture("unsupported_operator/model.onnx") + " " +
                        tmp.file("x.shrk"));
  EXPECT_EQ(r.exit_code, 2) << (r.out + r.err);
  EXPECT_NE((r.out + r.err).find("error: "), std::string::npos) << (r.out + r.err);
  EXPECT_NE((r.out + r.err).find("Erf"), std::string::npos) << (r.out + r.err);
  EXPECT_FALSE(fs::exists(tmp.file("x.shrk")));

  r = run_line("run " + fixture("mlp/model.onnx") + " --input pixels=" + fixture("mlp/input.npy") +
              " --output-dir " + tmp.path().string());
  EXPECT_EQ(r.exit_code, 2) << (r.out + r.err);
  EXPECT_NE((r.out + r.err).find("'input'"), std::string::npos) << (r.out + r.err);

  r = run_line("run " + fixture("mlp/model.onnx") + " --input " + fixture("lenet5/output.npy") +
              " --output-dir " + tmp.path().string());
  EXPECT_EQ(r.exit_code, 2) << (r.out + r.err);
  EXPECT_NE((r.out + r.err).find("[3, 10]"), std::string::npos) << (r.out + r.err);

  r = run_line("convert " + fixture("mlp/model.onnx") + " " + tmp.file("model.txt"));
  EXPECT_EQ(r.exit_code, 2) << (r.out + r.err);

  r = run_line("convert " + fixture("mlp/model.onnx") + " " + tmp.file("m.shrk") + " --std 0");
  EXPECT_EQ(r.exit_code, 2) << (r.out + r.err);
}

// Every file the importer refuses — crafted window attributes that once divided by zero
// (SIGFPE, exit 136), sizes that overflow, broken external data, empty scalars — gives exactly
// one "error: " line naming the file and exit code 2 (bad input), never a crash or exit 1.
TEST(OnnxCli, RefusedFilesGiveOneErrorLineAndExitTwo) {
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(fixture(""))) {
    if (!fs::exists(entry.path() / "error.txt")) continue;
    const std::string model = (entry.path() / "model.onnx").string();
    const CliResult r = run_cli({"inspect", model});
    EXPECT_EQ(r.exit_code, 2) << model << "\n" << r.err;
    EXPECT_TRUE(r.err.starts_with("error: ")) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find("model.onnx"), std::string::npos) << r.err;
    ++checked;
  }
  EXPECT_GE(checked, 12);
}

TEST(OnnxCli, AnNpyWhoseShapeOverflowsIsBadInput) {
  TempDir tmp;
  // What NumPy would write for an array of shape (2^60, 784), without the data.
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1152921504606846976, 784), }";
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string bytes("\x93NUMPY\x01\x00", 8);
  bytes += static_cast<char>(header.size() & 0xff);
  bytes += static_cast<char>(header.size() >> 8);
  write_file_atomic(tmp.file("huge.npy"), bytes + header);
  const CliResult r = run_line("run " + fixture("mlp/model.onnx") + " --input " +
                               tmp.file("huge.npy") + " --output-dir " + tmp.path().string());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(r.err.starts_with("error: ")) << r.err;
  EXPECT_NE(r.err.find("has more elements than"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

}  // namespace
}  // namespace shrink::testing
