// Fused fp32 execution (nn/fused_execution.hpp): which chains fuse, the lowered copies of
// resnet-small, vgg-small, PyTorch-exported ONNX CNNs and an MLP against the eval-mode graph
// they replace (float rounding only, with trained-looking BatchNorm statistics, masked and
// quantized weights), the inference-only contract, and every instruction set's kernels
// (this binary again under each SHRINK_ISA).
#include "../../src/nn/kernels/isa.hpp"
#include "shrink/io/onnx.hpp"
#include "shrink/io/tensor_file.hpp"
#include "shrink/nn/architectures.hpp"
#include "shrink/nn/fused_execution.hpp"
#include "shrink/nn/quantizer.hpp"
#include "support/cli.hpp"
#include "support/errors.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace shrink {
namespace {

using Json = nlohmann::json;

Tensor uniform_batch(int64_t n, const Shape& sample, float lo, float hi, uint64_t seed) {
  Shape shape{n};
  shape.insert(shape.end(), sample.begin(), sample.end());
  Tensor x(shape);
  Rng rng(seed);
  for (float& v : x) v = rng.uniform(lo, hi);
  return x;
}

// The largest |a - b| over the elements, relative to the largest |a| (at least 1).
float relative_difference(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  float d = 0.0f, largest = 1.0f;
  for (int64_t i = 0; i < a.numel(); ++i) {
    d = std::max(d, std::fabs(a[i] - b[i]));
    largest = std::max(largest, std::fabs(a[i]));
  }
  return d / largest;
}

// BatchNorm statistics and affine parameters as training leaves them (not the 1 and 0 they
// start at, under which folding would be an identity).
void randomize_batch_norms(Model& model, uint64_t seed) {
  Rng rng(seed);
  for (const Node& node : model.nodes()) {
    if (node.op->type().rfind("BatchNorm", 0) != 0) continue;
    for (float& v : model.parameter(node.parameters[0]).value) v = rng.uniform(0.5f, 1.5f);
    for (float& v : model.parameter(node.parameters[1]).value) v = rng.uniform(-0.3f, 0.3f);
    for (float& v : model.parameter(node.parameters[2]).value) v = rng.uniform(-0.2f, 0.2f);
    for (float& v : model.parameter(node.parameters[3]).value) v = rng.uniform(0.3f, 2.0f);
  }
}

int count_type(const Model& model, const std::string& type) {
  return static_cast<int>(std::count_if(model.nodes().begin(), model.nodes().end(),
                                        [&](const Node& n) { return n.op->type() == type; }));
}

// The lowered copy gives the eval-mode outputs of `model` on `x` to float rounding.
void expect_same_outputs(Model& model, const Tensor& x) {
  const Tensor reference = model.forward(x);
  Model lowered = lower_to_fused(model);
  EXPECT_LE(relative_difference(reference, lowered.forward(x)), 1e-5f);
}

const FusedLayerPlan& plan_of(const std::vector<FusedLayerPlan>& plans, const std::string& layer) {
  const auto it = std::find_if(plans.begin(), plans.end(),
                               [&](const FusedLayerPlan& p) { return p.layer == layer; });
  if (it == plans.end()) throw std::runtime_error("no plan for " + layer);
  return *it;
}

TEST(FusedModels, ResNetSmallFusesEveryChainAndGivesTheGraphsOutputs) {
  Model model = build_architecture("resnet-small", {1, 28, 28}, 10);
  model.initialize(3);
  randomize_batch_norms(model, 4);
  const std::vector<FusedLayerPlan> plans = plan_fusion(model);
  ASSERT_EQ(plans.size(), 8u);  // stem, 3 blocks of two convolutions, the projection
  const FusedLayerPlan& block = plan_of(plans, "layer2.0.conv2");
  EXPECT_EQ(block.batch_norm, "layer2.0.bn2");
  EXPECT_EQ(block.add, "layer2.0.add");
  EXPECT_EQ(block.residual, "layer2.0.downsample.1");
  EXPECT_EQ(block.activation, "layer2.0.relu2");
  // The projection's BatchNorm folds; the Add it feeds belongs to the block's chain.
  const FusedLayerPlan& projection = plan_of(plans, "layer2.0.downsample.0");
  EXPECT_EQ(projection.removed, std::vector<std::string>{"layer2.0.downsample.1"});

  Model lowered = lower_to_fused(model);
  EXPECT_EQ(count_type(lowered, "BatchNorm2d"), 0);
  EXPECT_EQ(count_type(lowered, "ReLU"), 0);
  EXPECT_EQ(count_type(lowered, "Add"), 0);
  EXPECT_EQ(count_type(lowered, "FusedConv2d"), 8);
  EXPECT_EQ(lowered.node("layer2.0.conv2").inputs,
            (std::vector<std::string>{"layer2.0.conv1", "layer2.0.downsample.0"}));
  EXPECT_EQ(lowered.output_name(), model.output_name());
  for (int64_t batch : {1, 5}) expect_same_outputs(model, uniform_batch(batch, {1, 28, 28}, -1.0f, 2.0f, 7));
}

TEST(FusedModels, VggSmallGivesTheGraphsOutputs) {
  Model model = build_architecture("vgg-small", {1, 28, 28}, 10, {{"channels", {8, 16}}});
  model.initialize(5);
  randomize_batch_norms(model, 6);
  Model lowered = lower_to_fused(model);
  EXPECT_EQ(count_type(lowered, "BatchNorm2d"), 0);
  EXPECT_EQ(count_type(lowered, "ReLU"), 0);
  EXPECT_GT(count_type(lowered, "FusedConv2d"), 0);
  expect_same_outputs(model, uniform_batch(4, {1, 28, 28}, -1.0f, 2.0f, 8));
  // At its default widths (32, 64) three layers run Winograd on AVX-512.
  Model wide = build_architecture("vgg-small", {1, 28, 28}, 10);
  wide.initialize(6);
  randomize_batch_norms(wide, 7);
  expect_same_outputs(wide, uniform_batch(3, {1, 28, 28}, -1.0f, 2.0f, 9));
}

TEST(FusedModels, MaskedAndQuantizedWeightsKeepTheirState) {
  Model model = build_architecture("resnet-small", {1, 28, 28}, 10);
  model.initialize(9);
  randomize_batch_norms(model, 10);
  Parameter& masked = model.parameter("layer1.0.conv1.weight");
  masked.mask = Tensor(masked.value.shape());
  for (int64_t i = 0; i < masked.mask.numel(); ++i) masked.mask[i] = i % 3 == 0 ? 0.0f : 1.0f;
  masked.apply_mask();
  Parameter& quantized = model.parameter("layer2.1.conv2.weight");
  quantized.set_quantizer(make_quantizer("affine", {{"bits", 4}}, quantized.value));
  ASSERT_EQ(plan_fusion(model).size(), 8u);
  Model lowered = lower_to_fused(model);
  EXPECT_TRUE(lowered.parameter("layer1.0.conv1.weight").has_mask());
  EXPECT_TRUE(lowered.parameter("layer2.1.conv2.weight").quantized());
  expect_same_outputs(model, uniform_batch(3, {1, 28, 28}, -1.0f, 2.0f, 11));
}

// PyTorch's ResNet (BatchNorm folded by the exporter: Conv -> Add -> Relu), concatenated
// branches, a depthwise-separable net and a small ResNet, exported by torch.onnx.export: the
// lowered copy gives PyTorch's outputs.
TEST(FusedModels, PyTorchExportedCnnsGiveTheReferenceOutputs) {
  for (const std::string name : {"fashion_resnet", "fashion_branches", "fashion_separable", "small_resnet"}) {
    const std::string dir = std::string(SHRINK_SOURCE_DIR) + "/tests/fixtures/onnx/" + name;
    Model model = load_onnx(dir + "/model.onnx");
    const Tensor x = read_npy(dir + "/input.npy");
    const Tensor expected = read_npy(dir + "/output.npy");
    EXPECT_FALSE(plan_fusion(model).empty()) << name;
    Model lowered = lower_to_fused(model);
    EXPECT_EQ(count_type(lowered, "ReLU"), 0) << name;
    const Tensor& y = lowered.forward(x);
    EXPECT_LE(relative_difference(expected, y), 1e-5f) << name;
    EXPECT_LE(relative_difference(model.forward(x), y), 1e-5f) << name;
  }
}

Model mlp(const Json& tail) {
  Json nodes = {{{"name", "fc"}, {"type", "Linear"}, {"attributes", {{"out_features", 7}}}}};
  for (const Json& node : tail) nodes.push_back(node);
  nodes.push_back({{"name", "out"}, {"type", "Linear"}, {"attributes", {{"out_features", 3}}}});
  Model model = Model::from_graph_json({{"input", {{"name", "x"}, {"shape", {12}}}}, {"nodes", nodes}});
  model.initialize(2);
  randomize_batch_norms(model, 3);
  return model;
}

TEST(FusedLayers, LinearWithBatchNormAndClip) {
  Model model = mlp({{{"name", "bn"}, {"type", "BatchNorm1d"}},
                     {{"name", "clip"}, {"type", "Clip"}, {"attributes", {{"min", -0.25}, {"max", 0.5}}}}});
  const std::vector<FusedLayerPlan> plans = plan_fusion(model);
  ASSERT_EQ(plans.size(), 1u);
  EXPECT_EQ(plans[0].removed, (std::vector<std::string>{"bn", "clip"}));
  Model lowered = lower_to_fused(model);
  EXPECT_EQ(lowered.node("fc").op->type(), "FusedLinear");
  EXPECT_EQ(lowered.node("out").inputs, std::vector<std::string>{"fc"});
  // Batch 300 splits by rows over threads; 3 by features.
  for (int64_t batch : {3, 300}) {
    const Tensor x = uniform_batch(batch, {12}, -2.0f, 2.0f, 4);
    const Tensor reference = model.forward(x);
    lowered.forward(x);
    const Tensor& fc = lowered.value("fc");
    for (float v : fc) {
      EXPECT_GE(v, -0.25f);
      EXPECT_LE(v, 0.5f);
    }
    EXPECT_LE(relative_difference(reference, lowered.value("out")), 1e-5f);
  }
}

TEST(FusedLayers, LinearWithReLU) {
  Model model = mlp({{{"name", "relu"}, {"type", "ReLU"}}});
  Model lowered = lower_to_fused(model);
  EXPECT_EQ(lowered.find_node("relu"), nullptr);
  expect_same_outputs(model, uniform_batch(6, {12}, -2.0f, 2.0f, 5));
}

TEST(FusedLayers, AChainEndsWhereAValueHasAnotherReader) {
  // bn is read by the ReLU and by the Add: the Conv2d takes the BatchNorm only.
  Model model = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {2, 6, 6}}}},
       {"nodes",
        {{{"name", "conv"}, {"type", "Conv2d"}, {"attributes", {{"out_channels", 3}, {"kernel_size", 3}, {"padding", 1}}}},
         {{"name", "bn"}, {"type", "BatchNorm2d"}},
         {{"name", "relu"}, {"type", "ReLU"}},
         {{"name", "sum"}, {"type", "Add"}, {"inputs", {"relu", "bn"}}}}}});
  model.initialize(1);
  randomize_batch_norms(model, 2);
  const std::vector<FusedLayerPlan> plans = plan_fusion(model);
  ASSERT_EQ(plans.size(), 1u);
  EXPECT_EQ(plans[0].removed, std::vector<std::string>{"bn"});
  Model lowered = lower_to_fused(model);
  EXPECT_EQ(lowered.node("relu").inputs, std::vector<std::string>{"conv"});
  EXPECT_EQ(lowered.node("sum").inputs, (std::vector<std::string>{"relu", "conv"}));
  expect_same_outputs(model, uniform_batch(2, {2, 6, 6}, -1.0f, 1.0f, 3));
}

TEST(FusedExecution, IsInferenceOnly) {
  Model model = mlp({{{"name", "relu"}, {"type", "ReLU"}}});
  Model lowered = lower_to_fused(model);
  const Tensor x = uniform_batch(3, {12}, 0.0f, 1.0f, 1);
  const std::string message = testing::error_message([&] { lowered.forward(x, true); });
  EXPECT_NE(message.find("inference only"), std::string::npos) << message;
  EXPECT_NO_THROW(model.forward(x, true)) << "the original still trains";
}

TEST(FusedExecution, InferenceModelFusesUnlessSwitchedOff) {
  Model model = mlp({{{"name", "relu"}, {"type", "ReLU"}}});
  const char* mode = std::getenv("SHRINK_FUSE");
  const bool off = mode != nullptr && std::string(mode) == "off";
  EXPECT_EQ(inference_model(model).has_value(), !off);
  Model plain = mlp(Json::array());
  EXPECT_FALSE(inference_model(plain).has_value()) << "nothing to fuse";
}

bool onednn_on() {
  const char* mode = std::getenv("SHRINK_ONEDNN_CONV");
  return mode == nullptr || std::string(mode) != "off";
}

// On oneDNN, every convolution is fused (a lone one too) and the values between them stay
// channels-last through the pooling, Concat and global pooling; the output is NCHW.
TEST(FusedModels, OneDnnConvolutionsKeepTheirActivationsChannelsLast) {
  if (!onednn_on()) GTEST_SKIP() << "SHRINK_ONEDNN_CONV=off";
  Model vgg = build_architecture("vgg-small", {1, 28, 28}, 10, {{"channels", {8, 16}}});
  vgg.initialize(5);
  Model lowered = lower_to_fused(vgg);
  EXPECT_EQ(count_type(lowered, "MaxPool2d"), 0);
  EXPECT_GT(count_type(lowered, "ChannelsLastMaxPool2d"), 0);
  EXPECT_EQ(count_type(lowered, "ChannelsLastGlobalAvgPool"), 1);
  const std::string dir = std::string(SHRINK_SOURCE_DIR) + "/tests/fixtures/onnx/";
  Model branches = load_onnx(dir + "fashion_branches/model.onnx");
  Model lowered_branches = lower_to_fused(branches);
  EXPECT_EQ(count_type(lowered_branches, "ChannelsLastConcat"), 2);
  EXPECT_EQ(count_type(lowered_branches, "Conv2d"), 0);
  // A convolution whose output is the model's output writes NCHW.
  Model lone = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {3, 6, 5}}}},
       {"nodes",
        {{{"name", "a"}, {"type", "Conv2d"}, {"attributes", {{"out_channels", 4}, {"kernel_size", 3}, {"padding", 1}}}},
         {{"name", "b"}, {"type", "Conv2d"}, {"attributes", {{"out_channels", 2}, {"kernel_size", 1}}}}}}});
  lone.initialize(3);
  ASSERT_TRUE(inference_model(lone).has_value()) << "lone convolutions run on oneDNN";
  EXPECT_EQ(count_type(lower_to_fused(lone), "FusedConv2d"), 2);
  expect_same_outputs(lone, uniform_batch(3, {3, 6, 5}, -1.0f, 1.0f, 4));
}

// A batch runs in slices of a few samples on oneDNN; each sample's output is the same.
TEST(FusedModels, SlicedBatchesGiveTheWholeBatchsOutputs) {
  Model model = build_architecture("resnet-small", {1, 28, 28}, 10);
  model.initialize(3);
  randomize_batch_norms(model, 4);
  Model lowered = lower_to_fused(model);
  const int64_t slice = inference_slice(lowered);
  if (!onednn_on()) {
    EXPECT_EQ(slice, 0);
    return;
  }
  ASSERT_GT(slice, 1);
  // 16 x 28 x 28 floats a sample is the largest layer: 512 KiB holds 10 samples.
  EXPECT_EQ(slice, 10);
  EXPECT_EQ(inference_slice(model), 0) << "the unlowered model runs whole";
  const Tensor x = uniform_batch(2 * slice + 3, {1, 28, 28}, -1.0f, 2.0f, 5);
  const Tensor whole = lowered.forward(x);
  Tensor assembled;
  const Tensor& sliced = forward_in_slices(lowered, {&x}, assembled);
  EXPECT_EQ(&sliced, &assembled);
  EXPECT_LE(relative_difference(whole, sliced), 1e-5f);
  EXPECT_LE(relative_difference(model.forward(x), sliced), 1e-5f);
  // A graph with an op along the batch axis mixes its samples: it runs whole.
  Model mixing = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {1, 6, 6}}}},
       {"nodes",
        {{{"name", "conv"}, {"type", "Conv2d"}, {"attributes", {{"out_channels", 2}, {"kernel_size", 3}}}},
         {{"name", "mix"}, {"type", "Softmax"}, {"attributes", {{"dim", 0}, {"across_batch", true}}}}}}});
  mixing.initialize(1);
  Model lowered_mixing = lower_to_fused(mixing);
  EXPECT_EQ(inference_slice(lowered_mixing), 0);
  const Tensor y = uniform_batch(40, {1, 6, 6}, -1.0f, 1.0f, 6);
  Tensor unused;
  const Tensor whole_mixed = lowered_mixing.forward(y);
  EXPECT_LE(relative_difference(mixing.forward(y), forward_in_slices(lowered_mixing, {&y}, unused)), 1e-5f);
  EXPECT_LE(relative_difference(whole_mixed, mixing.forward(y)), 1e-5f);
}

// Every instruction set this CPU runs gives the graph's outputs, on oneDNN and on the
// hand-written kernels, and SHRINK_FUSE=off keeps the graph: this binary again under each setting.
TEST(FusedExecution, EveryInstructionSetAndTheSwitch) {
  if (std::getenv("SHRINK_ISA") != nullptr || std::getenv("SHRINK_FUSE") != nullptr ||
      std::getenv("SHRINK_ONEDNN_CONV") != nullptr)
    GTEST_SKIP() << "already a child run";
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  // oneDNN's convolutions, then the hand-written kernels SHRINK_ONEDNN_CONV=off runs instead.
  for (const std::string convolutions : {"auto", "off"})
    for (kernels::Isa isa : kernels::runnable_isas()) {
      const testing::CliResult r = testing::run_command(
          {"env", std::string("SHRINK_ISA=") + kernels::isa_name(isa), "SHRINK_ONEDNN_CONV=" + convolutions,
           self, "--gtest_brief=1", "--gtest_filter=FusedModels.*:FusedLayers.*"});
      EXPECT_EQ(r.exit_code, 0) << kernels::isa_name(isa) << ", " << convolutions << ":\n" << r.out << r.err;
    }
  const testing::CliResult off = testing::run_command(
      {"env", "SHRINK_FUSE=off", self, "--gtest_brief=1", "--gtest_filter=*InferenceModelFuses*"});
  EXPECT_EQ(off.exit_code, 0) << off.out << off.err;
}

}  // namespace
}  // namespace shrink
