// The SHRINK_ISA environment variable, through the binary: it picks which compiled set of
// convolution kernels runs (each must give the reference output), and a set this build or CPU
// cannot run is a clear error. best_isa() reads it once per process, hence a process per case.
#include "../../src/nn/kernels/isa.hpp"
#include "shrink/io/tensor_file.hpp"
#include "support/cli.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace shrink::testing {
namespace {

namespace fs = std::filesystem;

std::string fixture(const std::string& path) {
  return (fs::path(SHRINK_SOURCE_DIR) / "tests" / "fixtures" / "onnx" / path).string();
}

// `shrink run` on a fixture whose graph input is `input`, with SHRINK_ISA set.
CliResult run_with_isa(const std::string& isa, const std::string& model, const std::string& input,
                       const fs::path& out) {
  return run_command({"env", "SHRINK_ISA=" + isa, SHRINK_CLI_PATH, "run",
                      fixture(model + "/model.onnx"), "--input",
                      input + "=" + fixture(model + "/input.npy"), "--output-dir", out.string()});
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  if (a.shape() != b.shape()) return INFINITY;
  float diff = 0;
  for (int64_t i = 0; i < a.numel(); ++i) diff = std::max(diff, std::abs(a[i] - b[i]));
  return diff;
}

TEST(IsaCli, EveryRunnableInstructionSetGivesTheReferenceOutput) {
  std::vector<std::string> names{"native"};
  for (kernels::Isa isa : kernels::runnable_isas()) names.emplace_back(kernels::isa_name(isa));
  // conv_group_dilation is a grouped, dilated convolution with x as its input; the fashion_
  // fixtures are PyTorch's ResNet, concatenated-branch and depthwise-separable nets.
  for (const auto& [model, input] : {std::pair<std::string, std::string>{"lenet5", "input"},
                                     {"small_resnet", "input"},
                                     {"conv_group_dilation", "x"},
                                     {"fashion_resnet", "input"},
                                     {"fashion_branches", "input"},
                                     {"fashion_separable", "input"}}) {
    const Tensor expected = read_npy(fixture(model + "/output.npy"));
    for (const std::string& isa : names) {
      TempDir tmp;
      const CliResult r = run_with_isa(isa, model, input, tmp.path());
      ASSERT_EQ(r.exit_code, 0) << isa << " " << model << ": " << r.out << r.err;
      const fs::path output = fs::directory_iterator(tmp.path())->path();
      EXPECT_LE(max_abs_diff(read_npy(output.string()), expected), 1e-4f) << isa << " " << model;
    }
  }
}

TEST(IsaCli, AnInstructionSetThatCannotRunIsAClearError) {
  TempDir tmp;
  const CliResult r = run_with_isa("sse9", "lenet5", "input", tmp.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("error: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("SHRINK_ISA=sse9 is not an instruction set this build runs on this CPU: portable"),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace shrink::testing
