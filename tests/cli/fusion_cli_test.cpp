// The SHRINK_FUSE, SHRINK_ONEDNN_CONV, SHRINK_WINOGRAD and SHRINK_SLICES environment variables, through the
// binary: `shrink run` of PyTorch-exported CNNs gives the reference output fused on oneDNN (the
// default), fused on the hand-written kernels, whole batches and node by node, `shrink eval`
// reports how many layers fused (and its CPU time), and a value that is no mode is a clear
// error. The switches are read once per process, hence a process per case.
#include "shrink/io/tensor_file.hpp"
#include "support/cli.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

namespace shrink::testing {
namespace {

namespace fs = std::filesystem;

std::string fixture(const std::string& path) {
  return (fs::path(SHRINK_SOURCE_DIR) / "tests" / "fixtures" / "onnx" / path).string();
}

// `mode` is VARIABLE=VALUE, or a SHRINK_FUSE value.
CliResult run_with_fuse(const std::string& mode, const std::string& model, const fs::path& out) {
  const std::string setting = mode.find('=') == std::string::npos ? "SHRINK_FUSE=" + mode : mode;
  return run_command({"env", setting, SHRINK_CLI_PATH, "run", fixture(model + "/model.onnx"),
                      "--input", "input=" + fixture(model + "/input.npy"), "--output-dir", out.string()});
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  if (a.shape() != b.shape()) return INFINITY;
  float diff = 0;
  for (int64_t i = 0; i < a.numel(); ++i) diff = std::max(diff, std::abs(a[i] - b[i]));
  return diff;
}

TEST(FusionCli, FusedAndNodeByNodeGiveTheReferenceOutput) {
  for (const std::string model : {"fashion_resnet", "fashion_branches", "fashion_separable", "small_resnet"}) {
    const Tensor expected = read_npy(fixture(model + "/output.npy"));
    for (const std::string mode : {"auto", "off", "SHRINK_ONEDNN_CONV=off", "SHRINK_WINOGRAD=off", "SHRINK_SLICES=off"}) {
      TempDir tmp;
      const CliResult r = run_with_fuse(mode, model, tmp.path());
      ASSERT_EQ(r.exit_code, 0) << mode << " " << model << ": " << r.out << r.err;
      const fs::path output = fs::directory_iterator(tmp.path())->path();
      EXPECT_LE(max_abs_diff(read_npy(output.string()), expected), 1e-4f) << mode << " " << model;
    }
  }
}

TEST(FusionCli, EvalReportsTheFusedLayers) {
  TempDir tmp;
  const std::string model = fixture("fashion_resnet/model.onnx");
  // Ten 28x28 samples in the IDX format Fashion-MNIST uses.
  fs::create_directories(tmp.file("data"));
  std::ofstream images(tmp.file("data/t10k-images-idx3-ubyte"), std::ios::binary);
  const unsigned char image_header[] = {0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 28, 0, 0, 0, 28};
  images.write(reinterpret_cast<const char*>(image_header), sizeof image_header);
  for (int i = 0; i < 10 * 28 * 28; ++i) images.put(static_cast<char>(i * 37 % 251));
  images.close();
  std::ofstream labels(tmp.file("data/t10k-labels-idx1-ubyte"), std::ios::binary);
  const unsigned char label_header[] = {0, 0, 8, 1, 0, 0, 0, 10};
  labels.write(reinterpret_cast<const char*>(label_header), sizeof label_header);
  for (int i = 0; i < 10; ++i) labels.put(static_cast<char>(i));
  labels.close();
  nlohmann::json reports[2];
  int k = 0;
  for (const std::string mode : {"auto", "off"}) {
    const std::string report = tmp.file(mode + ".json");
    const CliResult r = run_command({"env", "SHRINK_FUSE=" + mode, SHRINK_CLI_PATH, "eval", model, "--data",
                                     "fashion-mnist:" + tmp.file("data"), "--split", "test", "-q", "--report", report});
    ASSERT_EQ(r.exit_code, 0) << mode << ": " << r.out << r.err;
    reports[k++] = read_json(report);
  }
  EXPECT_GT(reports[0]["fused_layers"].get<int>(), 0);
  EXPECT_GT(reports[0]["samples_per_cpu_s"].get<double>(), 0.0);
  EXPECT_GT(reports[0]["cpu_seconds"].get<double>(), 0.0);
  EXPECT_EQ(reports[1]["fused_layers"].get<int>(), 0);
  EXPECT_NEAR(reports[0]["loss"].get<double>(), reports[1]["loss"].get<double>(), 1e-5);
  EXPECT_EQ(reports[0]["accuracy"], reports[1]["accuracy"]);
}

TEST(FusionCli, AValueThatIsNoModeIsAClearError) {
  TempDir tmp;
  expect_clear_error(run_with_fuse("fast", "small_resnet", tmp.path()),
                     "SHRINK_FUSE=fast is not a fusion mode: auto (the default) or off");
  expect_clear_error(run_with_fuse("SHRINK_ONEDNN_CONV=on", "small_resnet", tmp.path()),
                     "SHRINK_ONEDNN_CONV=on is not a oneDNN convolution mode: auto (the default) or off");
  expect_clear_error(run_with_fuse("SHRINK_WINOGRAD=yes", "fashion_resnet", tmp.path()),
                     "SHRINK_WINOGRAD=yes is not a Winograd mode: auto (the default) or off");
  expect_clear_error(run_with_fuse("SHRINK_SLICES=8", "small_resnet", tmp.path()),
                     "SHRINK_SLICES=8 is not a slicing mode: auto (the default) or off");
}

}  // namespace
}  // namespace shrink::testing
