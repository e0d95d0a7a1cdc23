// Round trip through a real runtime: a fixture is imported, pruned (weights zeroed, or channels
// removed), exported to ONNX, and the exported file is run in ONNX Runtime (onnxruntime-node, through bench/ort_run.mjs). Its outputs
// must match shrink's own forward pass on the same pruned model, and the pruned zeros must be in
// the file. The other ONNX tests only read shrink's exports back with shrink, which cannot catch
// an export that shrink misreads the same way it miswrites.
// Needs Node.js and `bash scripts/install-deps.sh --peers` (or --onnxruntime); skips without them.
#include "shrink/compress/pass.hpp"
#include "shrink/core/random.hpp"
#include "shrink/io/onnx.hpp"
#include "shrink/io/tensor_file.hpp"
#include "shrink/nn/model.hpp"
#include "shrink/nn/weights.hpp"
#include "support/cli.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <ostream>

namespace shrink {
namespace {

namespace fs = std::filesystem;

constexpr float kTolerance = 1e-4f;

const fs::path kSourceDir = SHRINK_SOURCE_DIR;
const std::string kScript = (kSourceDir / "bench" / "ort_run.mjs").string();

fs::path fixture(const std::string& name) {
  return kSourceDir / "tests" / "fixtures" / "onnx" / name;
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  float diff = 0;
  for (int64_t i = 0; i < a.numel(); ++i) diff = std::max(diff, std::abs(a[i] - b[i]));
  return diff;
}

// How far the other samples of a batch [N, ...] are from the first one.
float spread_across_batch(const Tensor& batch) {
  const int64_t per_sample = batch.numel() / batch.dim(0);
  float spread = 0;
  for (int64_t i = per_sample; i < batch.numel(); ++i)
    spread = std::max(spread, std::abs(batch[i] - batch[i % per_sample]));
  return spread;
}

// prune.magnitude's options per fixture. The residual CNN keeps its random initial weights and
// its log-softmax outputs barely depend on the input (they spread by 0.02 across samples when
// dense): one global threshold at 90% empties its three 3x3 convolutions and leaves a constant,
// and 90% per layer leaves a spread under 1e-3, too close to the tolerance to prove anything.
// Half of every layer keeps each convolution, BatchNorm and the residual add in play.
struct RoundTripCase {
  std::string fixture;
  double sparsity;
  std::string scope;
};

void PrintTo(const RoundTripCase& c, std::ostream* out) {
  *out << c.fixture << " pruned " << c.sparsity << " (" << c.scope << ")";
}

// Empty when ONNX Runtime can run here, else why not. Asked once: loading the runtime costs a
// few hundred milliseconds.
const std::string& onnx_runtime_missing() {
  static const std::string reason = [] {
    const std::string fix =
        "run `bash scripts/install-deps.sh --peers` (or --onnxruntime for ONNX Runtime alone)";
    if (testing::run_command({"node", "--version"}).exit_code != 0)
      return "Node.js (`node`) is not on PATH: install Node.js with npm, then " + fix;
    if (!fs::exists(kSourceDir / "bench" / "node_modules" / "onnxruntime-node"))
      return "ONNX Runtime for Node.js is not in bench/node_modules: " + fix;
    const testing::CliResult probe = testing::run_command({"node", kScript, "--version"});
    if (probe.exit_code != 0)
      return "onnxruntime-node does not load (" + probe.err.substr(0, 400) + "): " + fix;
    std::printf("[ ORT      ] %s", probe.out.c_str());
    return std::string();
  }();
  return reason;
}

// Runs `model` in ONNX Runtime on `input`; files go to `dir` under `tag`.
Tensor run_onnx_runtime(const std::string& model, const Tensor& input, const testing::TempDir& dir,
                        const std::string& tag) {
  const std::string in = dir.file(tag + "_input.npy"), out = dir.file(tag + "_output.npy");
  write_npy(input, in);
  const testing::CliResult r =
      testing::run_command({"node", kScript, model, in, out, "--threads", "1"});
  if (r.exit_code != 0) {
    ADD_FAILURE() << "ONNX Runtime failed on " << tag << " (exit " << r.exit_code << "): " << r.err;
    return Tensor();
  }
  return read_npy(out);
}

class OnnxRuntimeRoundTrip : public ::testing::TestWithParam<RoundTripCase> {
 protected:
  void SetUp() override {
    if (!onnx_runtime_missing().empty()) GTEST_SKIP() << onnx_runtime_missing();
  }
};

TEST_P(OnnxRuntimeRoundTrip, PrunedExportRunsTheSameInOnnxRuntime) {
  const RoundTripCase& c = GetParam();
  const std::string& name = c.fixture;
  Model model = load_onnx((fixture(name) / "model.onnx").string());
  const Tensor fixture_input = read_npy((fixture(name) / "input.npy").string());
  const Tensor dense_output = read_npy((fixture(name) / "output.npy").string());

  PassContext context;
  make_pass("prune.magnitude", {{"sparsity", c.sparsity}, {"scope", c.scope}})->run(model, context);
  const SparsityStats pruned = weight_sparsity(model);
  ASSERT_NEAR(pruned.sparsity(), c.sparsity, 1e-3);
  for (const Parameter* p : compressible_weights(model))
    ASSERT_GT(p->nonzeros(), 0) << p->name << " was pruned away: the comparison would not see it";

  testing::TempDir tmp;
  const std::string exported = tmp.file(name + "_pruned.onnx");
  save_onnx(model, exported);

  // The zeros must be in the file, where every other runtime sees them: read it back and
  // compare each compressible weight element by element, zeros included.
  const Model again = load_onnx(exported);
  for (const Parameter* p : compressible_weights(model)) {
    const Parameter* q = again.find_parameter(p->name);
    ASSERT_NE(q, nullptr) << p->name << " is missing from the export";
    EXPECT_EQ(q->value, p->value) << p->name;
  }
  EXPECT_EQ(weight_sparsity(again).zeros, pruned.zeros);

  // The fixture's own batch, and a batch size the fixture never had, to exercise the exported
  // dynamic batch axis.
  Shape random_shape{5};
  random_shape.insert(random_shape.end(), model.input_shape().begin(), model.input_shape().end());
  Tensor random_input(random_shape);
  Rng rng(20240613);
  for (float& v : random_input) v = rng.normal(0.0f, 1.0f);

  for (const auto& [tag, input] : {std::pair<std::string, const Tensor*>{"fixture", &fixture_input},
                                   {"random", &random_input}}) {
    SCOPED_TRACE(name + " on the " + tag + " batch");
    const Tensor expected = model.forward(*input, false);
    const Tensor actual = run_onnx_runtime(exported, *input, tmp, tag);
    ASSERT_EQ(actual.shape(), expected.shape());
    const float diff = max_abs_diff(actual, expected);
    const float spread = spread_across_batch(expected);
    std::printf("[ ORT      ] %-12s %-7s batch %lld: max |shrink - onnxruntime| = %.3g over %lld "
                "outputs (outputs spread %.3g across the batch; %s weight sparsity %.3f)\n",
                name.c_str(), tag.c_str(), static_cast<long long>(input->dim(0)), diff,
                static_cast<long long>(actual.numel()), spread, c.scope.c_str(), pruned.sparsity());
    EXPECT_LE(diff, kTolerance);
    // Guards against a comparison that proves nothing: the pruned model must still depend on its
    // input well above the tolerance, and pruning must have moved its outputs away from the
    // dense model's.
    EXPECT_GT(spread, 10 * kTolerance);
    if (tag == "fixture") EXPECT_GT(max_abs_diff(expected, dense_output), 10 * kTolerance);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, OnnxRuntimeRoundTrip,
                         ::testing::Values(RoundTripCase{"mlp", 0.9, "global"},
                                           RoundTripCase{"lenet5", 0.9, "global"},
                                           RoundTripCase{"small_resnet", 0.5, "layer"}),
                         [](const auto& info) { return info.param.fixture; });

// Structured pruning physically shrinks the tensors: the exported file holds the smaller
// shapes, ONNX Runtime runs it, and its outputs are shrink's. The residual fixture ties conv1
// and conv3 through the Add, so a wrong cut of the stream would fail to load or differ here.
TEST(OnnxRuntimeChannelPruning, ResidualModelWithChannelsRemovedRunsTheSameInOnnxRuntime) {
  if (!onnx_runtime_missing().empty()) GTEST_SKIP() << onnx_runtime_missing();
  Model model = load_onnx((fixture("small_resnet") / "model.onnx").string());
  const Tensor input = read_npy((fixture("small_resnet") / "input.npy").string());
  const int64_t macs = model.macs(), parameters = model.parameter_count();
  PassContext context;
  make_pass("prune.channels", {{"ratio", 0.5}, {"scope", "layer"}})->run(model, context);
  EXPECT_LT(2 * model.macs(), macs);
  EXPECT_LT(model.parameter_count(), parameters);

  testing::TempDir tmp;
  const std::string exported = tmp.file("small_resnet_channels.onnx");
  save_onnx(model, exported);
  const Model again = load_onnx(exported);
  EXPECT_EQ(again.parameter_count(), model.parameter_count());
  EXPECT_EQ(again.parameter("conv1.weight").value.shape(), model.parameter("conv1.weight").value.shape());
  EXPECT_EQ(again.parameter("conv1.weight").value.dim(0), 4);  // 8 filters, half removed

  const Tensor expected = model.forward(input, false);
  const Tensor actual = run_onnx_runtime(exported, input, tmp, "channels");
  ASSERT_EQ(actual.shape(), expected.shape());
  const float diff = max_abs_diff(actual, expected);
  std::printf("[ ORT      ] small_resnet channels 0.5: max |shrink - onnxruntime| = %.3g "
              "(outputs spread %.3g across the batch)\n", diff, spread_across_batch(expected));
  EXPECT_LE(diff, kTolerance);
  EXPECT_GT(spread_across_batch(expected), 10 * kTolerance);
}

// A ResNet trained in PyTorch and exported with torch.onnx.export (scripts/make_resnet_fixture.py),
// with an identity and a 1x1-conv projection shortcut: `shrink compress model.onnx --prune
// channels:0.5 -o pruned.onnx` in-process. The projection and the block's last convolution must
// lose the same channels; ONNX Runtime must run the smaller file with shrink's outputs.
TEST(OnnxRuntimeChannelPruning, TorchResnetWithProjectionShortcutRunsTheSameInOnnxRuntime) {
  if (!onnx_runtime_missing().empty()) GTEST_SKIP() << onnx_runtime_missing();
  const fs::path dir = fixture("resnet_projection");
  Model model = load_onnx((dir / "model.onnx").string());
  const Tensor input = read_npy((dir / "input.npy").string());
  ASSERT_LE(max_abs_diff(model.forward(input, false), read_npy((dir / "output.npy").string())),
            kTolerance);  // the import matches PyTorch before anything is pruned
  const int64_t macs = model.macs();
  PassContext context;
  make_pass("prune.channels", {{"ratio", 0.5}})->run(model, context);  // l1, global
  std::printf("[ ORT      ] resnet_projection channels 0.5 (l1, global): MACs %lld -> %lld (%.2fx)\n",
              static_cast<long long>(macs), static_cast<long long>(model.macs()),
              static_cast<double>(macs) / static_cast<double>(model.macs()));
  EXPECT_GE(static_cast<double>(macs), 1.8 * static_cast<double>(model.macs()));
  EXPECT_EQ(model.node("layer2.downsample.0").output_shape, model.node("layer2.conv2").output_shape);
  EXPECT_EQ(model.node("conv1").output_shape[0], model.node("layer1.conv2").output_shape[0]);
  EXPECT_LT(model.node("layer2.conv2").output_shape[0], 32);

  testing::TempDir tmp;
  const std::string exported = tmp.file("resnet_projection_channels.onnx");
  save_onnx(model, exported);
  Shape random_shape{7};
  random_shape.insert(random_shape.end(), model.input_shape().begin(), model.input_shape().end());
  Tensor random_input(random_shape);
  Rng rng(7);
  for (float& v : random_input) v = rng.uniform(0.0f, 1.0f);  // pixels in [0, 1]
  for (const auto& [tag, x] : {std::pair<std::string, const Tensor*>{"fixture", &input},
                               {"random", &random_input}}) {
    const Tensor expected = model.forward(*x, false);
    const Tensor actual = run_onnx_runtime(exported, *x, tmp, tag);
    ASSERT_EQ(actual.shape(), expected.shape()) << tag;
    const float diff = max_abs_diff(actual, expected);
    std::printf("[ ORT      ] resnet_projection %s batch %lld: max |shrink - onnxruntime| = %.3g "
                "(outputs spread %.3g across the batch)\n", tag.c_str(),
                static_cast<long long>(x->dim(0)), diff, spread_across_batch(expected));
    EXPECT_LE(diff, kTolerance) << tag;
    EXPECT_GT(spread_across_batch(expected), 10 * kTolerance) << tag;
  }
}

// The runner's contract, so a broken runner fails loudly instead of comparing nothing.
TEST(OnnxRuntimeRunner, RejectsAFileThatIsNotNpyWithExitCode2) {
  if (!onnx_runtime_missing().empty()) GTEST_SKIP() << onnx_runtime_missing();
  testing::TempDir tmp;
  const std::string model = (fixture("mlp") / "model.onnx").string();
  const testing::CliResult r =
      testing::run_command({"node", kScript, model, model, tmp.file("out.npy")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("is not a .npy file"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp.file("out.npy")));
}

// quant.int8's QDQ export: ONNX Runtime loads it (with its own QDQ handling, which may fuse the
// patterns onto int8 kernels) and computes shrink's fake-quantized outputs, up to the rounding
// of an intermediate value landing on the other side of a code boundary.
TEST(OnnxRuntimeQdq, Int8ModelRunsTheSameInOnnxRuntime) {
  if (!onnx_runtime_missing().empty()) GTEST_SKIP() << onnx_runtime_missing();
  Model model = load_onnx((fixture("lenet5") / "model.onnx").string());
  const Tensor input = read_npy((fixture("lenet5") / "input.npy").string());
  // Calibrate on the fixture's inputs and noise around them.
  Rng rng(5);
  std::vector<float> pixels;
  std::vector<int32_t> labels;
  const int64_t per_sample = input.numel() / input.dim(0);
  for (int64_t s = 0; s < 64; ++s) {
    for (int64_t k = 0; k < per_sample; ++k)
      pixels.push_back(input[(s % input.dim(0)) * per_sample + k] + rng.normal(0.0f, 0.1f));
    labels.push_back(0);
  }
  const Dataset data = Dataset::from_floats("calibration", model.input_shape(), std::move(pixels),
                                            std::move(labels), static_cast<int>(model.output_shape()[0]));
  PassContext context;
  context.train = &data;
  make_pass("quant.int8", {{"batches", 1}, {"batch", 64}})->run(model, context);

  testing::TempDir tmp;
  const std::string exported = tmp.file("lenet5_int8.onnx");
  save_onnx(model, exported);
  const Tensor expected = model.forward(input, false);
  const Tensor actual = run_onnx_runtime(exported, input, tmp, "int8");
  ASSERT_EQ(actual.shape(), expected.shape());
  const float diff = max_abs_diff(actual, expected);
  float scale = 0;
  for (float v : expected) scale = std::max(scale, std::abs(v));
  std::printf("[ ORT      ] lenet5 int8 QDQ: max |shrink - onnxruntime| = %.3g (outputs up to %.3g)\n",
              diff, scale);
  EXPECT_LE(diff, 0.02f * scale);
  EXPECT_GT(spread_across_batch(expected), 10 * kTolerance);
}

}  // namespace
}  // namespace shrink
