// shrink convert and shrink run, end to end through the binary.
#include "shrink/io/model_file.hpp"
#include "shrink/io/tensor_file.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sys/wait.h>

namespace shrink {
namespace {

namespace fs = std::filesystem;

struct CliResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

CliResult run_cli(const std::string& args) {
  const std::string command = std::string(SHRINK_CLI_PATH) + " " + args + " 2>&1";
  CliResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
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
  testing::TempDir tmp;
  const Tensor expected = read_npy(fixture("lenet5/output.npy"));
  CliResult r = run_cli("run " + fixture("lenet5/model.onnx") + " --input input=" +
                        fixture("lenet5/input.npy") + " --output-dir " + tmp.path().string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("output"), std::string::npos);
  EXPECT_LE(max_abs_diff(read_npy(tmp.file("output.npy")), expected), 1e-4f);

  r = run_cli("run " + fixture("mlp/model.onnx") + " --input " + fixture("mlp/input.pb") +
              " --output-dir " + tmp.path().string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string name;
  const Tensor pb = read_tensor_pb(tmp.file("output.pb"), &name);
  EXPECT_EQ(name, "output");
  EXPECT_LE(max_abs_diff(pb, read_npy(fixture("mlp/output.npy"))), 1e-4f);
}

TEST(OnnxCli, ConvertsBothWaysAndStoresNormalization) {
  testing::TempDir tmp;
  const std::string shrk = tmp.file("resnet.shrk");
  CliResult r = run_cli("convert " + fixture("small_resnet/model.onnx") + " " + shrk +
                        " --mean 0.2860 --std 0.3530");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const Model model = read_model(shrk);
  EXPECT_FLOAT_EQ(model.metadata["normalization"]["mean"][0].get<float>(), 0.2860f);
  EXPECT_FLOAT_EQ(model.metadata["normalization"]["std"][0].get<float>(), 0.3530f);
  EXPECT_NEAR(model.metadata["normalization"]["scale"].get<double>(), 1.0 / 255.0, 1e-9);

  const std::string onnx = tmp.file("back.onnx");
  r = run_cli("convert " + shrk + " " + onnx);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_cli("run " + onnx + " --input input=" + fixture("small_resnet/input.npy") +
              " --output-dir " + tmp.path().string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_LE(max_abs_diff(read_npy(tmp.file("output.npy")), read_npy(fixture("small_resnet/output.npy"))),
            1e-4f);
  EXPECT_EQ(read_model(onnx).metadata["normalization"], model.metadata["normalization"]);
}

TEST(OnnxCli, BadInputExitsWithTwoAndSaysWhy) {
  testing::TempDir tmp;
  CliResult r = run_cli("convert " + fixture("unsupported_operator/model.onnx") + " " +
                        tmp.file("x.shrk"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("error: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Erf"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp.file("x.shrk")));

  r = run_cli("run " + fixture("mlp/model.onnx") + " --input pixels=" + fixture("mlp/input.npy") +
              " --output-dir " + tmp.path().string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("'input'"), std::string::npos) << r.output;

  r = run_cli("run " + fixture("mlp/model.onnx") + " --input " + fixture("lenet5/output.npy") +
              " --output-dir " + tmp.path().string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("[3, 10]"), std::string::npos) << r.output;

  r = run_cli("convert " + fixture("mlp/model.onnx") + " " + tmp.file("model.txt"));
  EXPECT_EQ(r.exit_code, 2) << r.output;

  r = run_cli("convert " + fixture("mlp/model.onnx") + " " + tmp.file("m.shrk") + " --std 0");
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

}  // namespace
}  // namespace shrink
