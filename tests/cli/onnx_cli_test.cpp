// shrink convert, run and compress on ONNX files, end to end through the binary.
#include "shrink/io/model_file.hpp"
#include "shrink/io/tensor_file.hpp"
#include "shrink/nn/weights.hpp"
#include "support/cli.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace shrink::testing
