// The channel dependency analysis on hand-built graphs (residual with and without a projection
// shortcut, concat, depthwise, Flatten -> Linear, patterns it does not follow), and channel
// removal: the smaller model computes exactly what the original computes with the removed
// channels zeroed, i.e. with the weight columns that read them set to zero; and compensation:
// with the consumers' mean inputs, a removed channel that is constant (a zero filter after which
// a BatchNorm shift and a ReLU leave a constant) changes no output, and where zero padding makes
// its contribution vary near the border, the mean of every output over positions still holds.
#include "shrink/nn/channel_dependencies.hpp"

#include "shrink/core/error.hpp"
#include "shrink/core/random.hpp"
#include "shrink/io/onnx.hpp"
#include "shrink/nn/architectures.hpp"
#include "support/errors.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

namespace shrink {
namespace {

using Json = nlohmann::json;

Model build(const std::string& text, uint64_t seed = 1) {
  Model model = Model::from_graph_json(Json::parse(text));
  model.initialize(seed);
  // Random BatchNorm statistics and shifts, so a removed channel is not zero after its BatchNorm.
  Rng rng(seed + 100);
  for (Parameter* p : model.parameters()) {
    const std::string& n = p->name;
    if (n.ends_with("running_var") || n.ends_with("constant") ||
        (n.find("bn") != std::string::npos && n.ends_with("weight")))
      for (float& v : p->value) v = rng.uniform(0.5f, 1.5f);
    else if (n.ends_with("running_mean") || n.ends_with("bias"))
      for (float& v : p->value) v = rng.uniform(-0.5f, 0.5f);
  }
  return model;
}

const ChannelGroup& group_of(const ChannelDependencies& deps, const std::string& producer) {
  for (const ChannelGroup& g : deps.groups())
    if (std::find(g.producers.begin(), g.producers.end(), producer) != g.producers.end()) return g;
  throw Error::internal("no group holds " + producer);
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// conv1 -> bn1 -> relu1 -> [conv2 -> bn2 -> relu2 -> conv3 -> bn3] + shortcut -> relu -> pool ->
// flatten -> fc. The shortcut is relu1 itself, or a 1x1 conv + BatchNorm projection.
std::string residual(bool projection) {
  const std::string shortcut =
      projection ? R"({"name": "down", "type": "Conv2d", "inputs": ["relu1"],
                        "attributes": {"out_channels": 6, "kernel_size": 1, "stride": 2, "bias": false}},
                      {"name": "down_bn", "type": "BatchNorm2d"},)"
                 : "";
  return R"({"input": {"name": "x", "shape": [2, 8, 8]}, "nodes": [
    {"name": "conv1", "type": "Conv2d", "attributes": {"out_channels": 4, "kernel_size": 3, "padding": 1}},
    {"name": "bn1", "type": "BatchNorm2d"},
    {"name": "relu1", "type": "ReLU"},
    {"name": "conv2", "type": "Conv2d", "attributes": {"out_channels": )" +
         std::string(projection ? "5, \"stride\": 2" : "3") + R"(, "kernel_size": 3, "padding": 1}},
    {"name": "bn2", "type": "BatchNorm2d"},
    {"name": "relu2", "type": "ReLU"},
    {"name": "conv3", "type": "Conv2d", "attributes": {"out_channels": )" +
         std::string(projection ? "6" : "4") + R"(, "kernel_size": 3, "padding": 1, "bias": false}},
    {"name": "bn3", "type": "BatchNorm2d"},)" +
         shortcut + R"(
    {"name": "add", "type": "Add", "inputs": ["bn3", ")" + (projection ? "down_bn" : "relu1") + R"("]},
    {"name": "relu", "type": "ReLU"},
    {"name": "pool", "type": "GlobalAvgPool"},
    {"name": "flatten", "type": "Flatten"},
    {"name": "fc", "type": "Linear", "attributes": {"out_features": 3}}]})";
}

TEST(ChannelDependencies, ResidualAddTiesTheStreamIntoOneGroup) {
  const Model model = build(residual(false));
  const ChannelDependencies deps(model);
  ASSERT_EQ(deps.groups().size(), 3u);
  const ChannelGroup& stream = group_of(deps, "conv1");
  EXPECT_EQ(sorted(stream.producers), (std::vector<std::string>{"conv1", "conv3"}));
  EXPECT_EQ(sorted(stream.consumers), (std::vector<std::string>{"conv2", "fc"}));
  EXPECT_EQ(sorted(stream.followers), (std::vector<std::string>{"bn1", "bn3"}));
  EXPECT_EQ(stream.units.size(), 4u);  // scored and removed once per channel of the stream
  EXPECT_EQ(stream.removable_units, 4);
  for (int u : stream.units) {
    const ChannelUnit& unit = deps.units()[static_cast<size_t>(u)];
    ASSERT_EQ(unit.sources.size(), 2u);
    EXPECT_EQ(unit.sources[0].channel, unit.sources[1].channel);  // channel c of both
  }
  const ChannelGroup& inner = group_of(deps, "conv2");
  EXPECT_EQ(inner.producers, std::vector<std::string>{"conv2"});
  EXPECT_EQ(inner.consumers, std::vector<std::string>{"conv3"});
  EXPECT_EQ(inner.removable_units, 3);
  // The stream reaches add, relu, pool and flatten channel by channel.
  EXPECT_EQ(deps.channel_units("add"), deps.channel_units("bn1"));
  EXPECT_EQ(deps.channel_units("flatten"), deps.channel_units("relu1"));
}

TEST(ChannelDependencies, ProjectionShortcutJoinsItsConvolutionToTheBlockOutput) {
  const ChannelDependencies deps(build(residual(true)));
  ASSERT_EQ(deps.groups().size(), 4u);
  EXPECT_EQ(sorted(group_of(deps, "conv3").producers), (std::vector<std::string>{"conv3", "down"}));
  EXPECT_EQ(group_of(deps, "conv3").removable_units, 6);
  // The block input (conv1's channels) feeds both conv2 and the projection.
  EXPECT_EQ(group_of(deps, "conv1").producers, std::vector<std::string>{"conv1"});
  EXPECT_EQ(sorted(group_of(deps, "conv1").consumers), (std::vector<std::string>{"conv2", "down"}));
}

TEST(ChannelDependencies, TheModelOutputIsNeverPruned) {
  const ChannelDependencies deps(build(residual(false)));
  const ChannelGroup& logits = group_of(deps, "fc");
  EXPECT_EQ(logits.removable_units, 0);
  ASSERT_EQ(logits.reasons.size(), 1u);
  EXPECT_NE(logits.reasons[0].find("model's output"), std::string::npos) << logits.reasons[0];
}

// A second model input (ONNX graphs may have several) is a value like the first: the analysis
// must know its shape, and the channels of the Add that mixes it in must stay.
TEST(ChannelDependencies, ASecondModelInputIsFollowedLikeTheFirst) {
  const Model model = build(R"({"inputs": [{"name": "x", "shape": [6]}, {"name": "y", "shape": [4]}],
    "nodes": [
    {"name": "fx", "type": "Linear", "inputs": ["x"], "attributes": {"out_features": 5}},
    {"name": "fy", "type": "Linear", "inputs": ["y"], "attributes": {"out_features": 5}},
    {"name": "add", "type": "Add", "inputs": ["fx", "fy"]},
    {"name": "relu", "type": "ReLU"},
    {"name": "hidden", "type": "Linear", "attributes": {"out_features": 7}},
    {"name": "relu2", "type": "ReLU"},
    {"name": "fc", "type": "Linear", "attributes": {"out_features": 3}}]})");
  const ChannelDependencies deps(model);
  EXPECT_TRUE(group_of(deps, "hidden").reasons.empty());
  EXPECT_EQ(group_of(deps, "hidden").removable_units, 7);
  EXPECT_EQ(sorted(group_of(deps, "fx").producers), (std::vector<std::string>{"fx", "fy"}));
}

TEST(ChannelDependencies, ConcatPlacesEachBranchAtItsOffset) {
  const Model model = build(R"({"input": {"name": "x", "shape": [1, 6, 6]}, "nodes": [
    {"name": "a", "type": "Conv2d", "attributes": {"out_channels": 2, "kernel_size": 3}},
    {"name": "b", "type": "Conv2d", "inputs": ["x"], "attributes": {"out_channels": 3, "kernel_size": 3}},
    {"name": "relu_b", "type": "ReLU"},
    {"name": "cat", "type": "Concat", "inputs": ["a", "relu_b"], "attributes": {"axis": 1}},
    {"name": "mix", "type": "Conv2d", "attributes": {"out_channels": 4, "kernel_size": 1}},
    {"name": "flatten", "type": "Flatten"},
    {"name": "fc", "type": "Linear", "attributes": {"out_features": 2}}]})");
  const ChannelDependencies deps(model);
  const auto& cat = deps.channel_units("cat");
  ASSERT_EQ(cat.size(), 5u);
  const auto& a = deps.channel_units("a");
  const auto& b = deps.channel_units("b");
  EXPECT_EQ(std::vector<int>(cat.begin(), cat.begin() + 2), a);
  EXPECT_EQ(std::vector<int>(cat.begin() + 2, cat.end()), b);
  EXPECT_NE(group_of(deps, "a").label(), group_of(deps, "b").label());  // two separate groups
  EXPECT_EQ(group_of(deps, "a").consumers, std::vector<std::string>{"mix"});
  EXPECT_EQ(group_of(deps, "b").consumers, std::vector<std::string>{"mix"});
}

TEST(ChannelDependencies, DepthwiseConvolutionCarriesItsInputChannels) {
  const Model model = build(R"({"input": {"name": "x", "shape": [1, 6, 6]}, "nodes": [
    {"name": "conv", "type": "Conv2d", "attributes": {"out_channels": 4, "kernel_size": 1}},
    {"name": "dw", "type": "Conv2d", "attributes": {"out_channels": 8, "kernel_size": 3, "groups": 4, "padding": 1}},
    {"name": "bn", "type": "BatchNorm2d"},
    {"name": "pw", "type": "Conv2d", "attributes": {"out_channels": 3, "kernel_size": 1}},
    {"name": "pool", "type": "GlobalAvgPool"},
    {"name": "flatten", "type": "Flatten"},
    {"name": "fc", "type": "Linear", "attributes": {"out_features": 2}}]})");
  const ChannelDependencies deps(model);
  EXPECT_EQ(deps.role("dw"), ChannelDependencies::Role::kDepthwise);
  const ChannelGroup& g = group_of(deps, "conv");
  EXPECT_EQ(g.removable_units, 4);
  EXPECT_EQ(sorted(g.followers), (std::vector<std::string>{"bn", "dw"}));
  EXPECT_EQ(g.consumers, std::vector<std::string>{"pw"});
  // Two outputs per input channel (multiplier 2), both in the input channel's unit.
  const auto& dw = deps.channel_units("dw");
  const auto& in = deps.channel_units("conv");
  for (size_t o = 0; o < dw.size(); ++o) EXPECT_EQ(dw[o], in[o / 2]);
}

TEST(ChannelDependencies, FlattenMakesEachChannelItsHeightTimesWidthColumns) {
  const Model model = build(R"({"input": {"name": "x", "shape": [1, 5, 5]}, "nodes": [
    {"name": "conv", "type": "Conv2d", "attributes": {"out_channels": 3, "kernel_size": 3}},
    {"name": "flatten", "type": "Flatten"},
    {"name": "fc1", "type": "Linear", "attributes": {"out_features": 4}},
    {"name": "fc2", "type": "Linear", "attributes": {"out_features": 2}}]})");
  const ChannelDependencies deps(model);
  const auto& columns = deps.channel_units("flatten");
  const auto& channels = deps.channel_units("conv");
  ASSERT_EQ(columns.size(), 27u);
  for (size_t f = 0; f < columns.size(); ++f) EXPECT_EQ(columns[f], channels[f / 9]) << f;
  EXPECT_EQ(group_of(deps, "conv").consumers, std::vector<std::string>{"fc1"});
  EXPECT_EQ(group_of(deps, "fc1").removable_units, 4);
}

TEST(ChannelDependencies, WhatItDoesNotFollowStaysAndIsNamed) {
  const Model model = build(R"({"input": {"name": "x", "shape": [2, 4, 4]}, "nodes": [
    {"name": "conv", "type": "Conv2d", "attributes": {"out_channels": 4, "kernel_size": 1}},
    {"name": "swap", "type": "Transpose", "attributes": {"perm": [0, 2, 1, 3]}},
    {"name": "grouped", "type": "Conv2d", "attributes": {"out_channels": 4, "kernel_size": 1, "groups": 2}},
    {"name": "conv2", "type": "Conv2d", "attributes": {"out_channels": 6, "kernel_size": 1}},
    {"name": "soft", "type": "Softmax", "attributes": {"dim": 1}},
    {"name": "flatten", "type": "Flatten"},
    {"name": "fc", "type": "Linear", "attributes": {"out_features": 2}}]})");
  const ChannelDependencies deps(model);
  const ChannelGroup& conv = group_of(deps, "conv");
  EXPECT_EQ(conv.removable_units, 0);
  ASSERT_FALSE(conv.reasons.empty());
  EXPECT_NE(conv.reasons[0].find("node swap (Transpose)"), std::string::npos) << conv.reasons[0];
  const ChannelGroup& conv2 = group_of(deps, "conv2");
  EXPECT_EQ(conv2.removable_units, 0);
  EXPECT_NE(conv2.reasons.at(0).find("node soft (Softmax)"), std::string::npos) << conv2.reasons[0];
  // The grouped convolution's input is the transposed tensor; its own outputs feed conv2 only.
  const ChannelGroup& after_grouped = group_of(deps, "conv2");
  EXPECT_EQ(after_grouped.consumers, std::vector<std::string>{});
  bool grouped_named = false;
  for (const ChannelUnit& unit : deps.units())
    for (const auto& r : unit.reasons) grouped_named |= r.find("node grouped (Conv2d, groups 2)") != std::string::npos;
  EXPECT_TRUE(grouped_named);
}

// The residual CNN exported by torch.onnx.export (scripts/make_onnx_fixtures.py, SmallResNet):
// conv1 -> bn1 -> relu -> [conv2 -> bn2 -> relu -> conv3 -> bn3] + identity -> relu -> maxpool
// -> down -> relu -> avgpool -> global pool -> flatten -> fc1 -> bn4 -> leaky relu -> fc2 ->
// log-softmax. Imported graphs carry PyTorch's names; the analysis needs nothing else.
Model imported_resnet() {
  const auto path = std::filesystem::path(SHRINK_SOURCE_DIR) / "tests" / "fixtures" / "onnx" /
                    "small_resnet" / "model.onnx";
  return load_onnx(path.string());
}

TEST(ChannelDependencies, OnnxImportedResidualModel) {
  const Model model = imported_resnet();
  const ChannelDependencies deps(model);
  const ChannelGroup& stream = group_of(deps, "conv1");
  EXPECT_EQ(sorted(stream.producers), (std::vector<std::string>{"conv1", "conv3"}));
  EXPECT_EQ(stream.removable_units, 8);
  EXPECT_EQ(stream.consumers.size(), 2u);  // conv2 and the strided conv after the block
  EXPECT_EQ(group_of(deps, "conv2").removable_units, 8);
  EXPECT_EQ(group_of(deps, "down").removable_units, 12);  // through pools and Flatten to fc1
  EXPECT_EQ(group_of(deps, "fc1").removable_units, 16);   // through BatchNorm1d and LeakyReLU
  EXPECT_EQ(group_of(deps, "fc2").removable_units, 0);    // the logits
}

// --- removal -----------------------------------------------------------------------------------

// The original model with the weight entries that read removed channels zeroed: what the smaller
// model must compute.
Model zero_removed_inputs(const Model& model, const ChannelDependencies& deps,
                          const std::vector<char>& removed) {
  Model reference = model.clone();
  for (const Node& node : model.nodes()) {
    if (deps.role(node.name) != ChannelDependencies::Role::kProducer) continue;
    const std::vector<int>& units = deps.channel_units(node.inputs[0]);
    Tensor& w = reference.parameter(node.name + ".weight").value;
    const bool transposed = node.op->type() == "ConvTranspose2d";
    const int64_t outer = transposed ? 1 : w.dim(0);
    const int64_t in = transposed ? w.dim(0) : w.dim(1);
    const int64_t inner = w.numel() / (outer * in);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t c = 0; c < in; ++c)
        if (removed[static_cast<size_t>(units[static_cast<size_t>(c)])])
          std::fill_n(w.data() + (o * in + c) * inner, inner, 0.0f);
  }
  return reference;
}

// Removes every other removable unit of each group (keeping at least one) and compares the
// smaller model with the zeroed original on a random batch.
void expect_removal_matches_zeroing(Model& model, uint64_t seed) {
  const ChannelDependencies deps(model);
  std::vector<char> removed(deps.units().size(), 0);
  int64_t count = 0;
  for (const ChannelGroup& g : deps.groups()) {
    int64_t kept = static_cast<int64_t>(g.units.size());
    for (size_t k = 0; k < g.units.size() && kept > 1; k += 2) {
      const auto u = static_cast<size_t>(g.units[k]);
      if (!deps.units()[u].removable()) continue;
      removed[u] = 1;
      --kept;
      ++count;
    }
  }
  ASSERT_GT(count, 0);
  Model smaller = deps.remove(model, removed);
  Model reference = zero_removed_inputs(model, deps, removed);
  EXPECT_LT(smaller.parameter_count(), model.parameter_count());
  EXPECT_LT(smaller.macs(), model.macs());

  Rng rng(seed);
  Shape shape{3};
  shape.insert(shape.end(), model.input_shape().begin(), model.input_shape().end());
  Tensor x(shape);
  for (float& v : x) v = rng.normal(0.0f, 1.0f);
  const Tensor want = reference.forward(x);
  const Tensor got = smaller.forward(x);
  ASSERT_EQ(got.shape(), want.shape());
  float scale = 0.0f, diff = 0.0f;
  for (int64_t i = 0; i < want.numel(); ++i) {
    scale = std::max(scale, std::abs(want[i]));
    diff = std::max(diff, std::abs(want[i] - got[i]));
  }
  EXPECT_GT(scale, 0.0f);
  EXPECT_LE(diff, 1e-5f * std::max(1.0f, scale)) << "scale " << scale;
  // Something really was removed: the original differs from the zeroed one.
  const Tensor dense = model.forward(x);
  float moved = 0.0f;
  for (int64_t i = 0; i < want.numel(); ++i) moved = std::max(moved, std::abs(dense[i] - want[i]));
  EXPECT_GT(moved, 1e-4f);
}

void expect_removal_matches_zeroing(const std::string& graph, uint64_t seed) {
  Model model = build(graph, seed);
  expect_removal_matches_zeroing(model, seed);
}

TEST(ChannelRemoval, ResidualEqualsTheOriginalWithRemovedChannelsZeroed) {
  expect_removal_matches_zeroing(residual(false), 1);
}

TEST(ChannelRemoval, ProjectionShortcutEqualsTheZeroedOriginal) {
  expect_removal_matches_zeroing(residual(true), 2);
}

TEST(ChannelRemoval, ConcatDepthwiseReshapeAndConstantsEqualTheZeroedOriginal) {
  expect_removal_matches_zeroing(R"({"input": {"name": "x", "shape": [2, 7, 7]}, "nodes": [
    {"name": "a", "type": "Conv2d", "attributes": {"out_channels": 4, "kernel_size": 3, "padding": 1}},
    {"name": "a_bn", "type": "BatchNorm2d"},
    {"name": "b", "type": "Conv2d", "inputs": ["x"], "attributes": {"out_channels": 5, "kernel_size": 1}},
    {"name": "b_scale", "type": "Mul", "attributes": {"constant_shape": [5, 1, 1]}},
    {"name": "cat", "type": "Concat", "inputs": ["a_bn", "b_scale"], "attributes": {"axis": 1}},
    {"name": "relu", "type": "ReLU"},
    {"name": "dw", "type": "Conv2d", "attributes": {"out_channels": 18, "kernel_size": 3, "groups": 9, "stride": 2}},
    {"name": "dw_bn", "type": "BatchNorm2d"},
    {"name": "up", "type": "ConvTranspose2d", "attributes": {"out_channels": 6, "kernel_size": 2, "stride": 1}},
    {"name": "pool", "type": "MaxPool2d", "attributes": {"kernel_size": 2, "stride": 2}},
    {"name": "shift", "type": "BroadcastAdd", "attributes": {"constant_shape": [1, 6, 1, 1]}},
    {"name": "reshape", "type": "Reshape", "attributes": {"shape": [0, 24]}},
    {"name": "fc1", "type": "Linear", "attributes": {"out_features": 7}},
    {"name": "bn1d", "type": "BatchNorm1d"},
    {"name": "tanh", "type": "Tanh"},
    {"name": "fc2", "type": "Linear", "attributes": {"out_features": 3}}]})",
                                 3);
}

TEST(ChannelRemoval, OnnxImportedResidualEqualsTheZeroedOriginal) {
  Model model = imported_resnet();
  expect_removal_matches_zeroing(model, 4);
}

TEST(ChannelRemoval, ARealArchitectureKeepsItsMasksAndMetadata) {
  Model model = build_architecture("resnet-small", {1, 12, 12}, 10, {{"width", 4}});
  Parameter& w = model.parameter("layer1.0.conv1.weight");
  w.mask = Tensor(w.value.shape(), 1.0f);
  w.mask[0] = 0.0f;  // filter 0, input channel 0
  w.apply_mask();
  const ChannelDependencies deps(model);
  std::vector<char> removed(deps.units().size(), 0);
  // Channel 1 of the first residual stream: the input channel 1 of layer1.0.conv1 goes.
  const ChannelGroup& stream = group_of(deps, "conv1");
  EXPECT_EQ(sorted(stream.producers), (std::vector<std::string>{"conv1", "layer1.0.conv2"}));
  removed[static_cast<size_t>(stream.units[1])] = 1;
  Model smaller = deps.remove(model, removed);
  const Parameter& cut = smaller.parameter("layer1.0.conv1.weight");
  EXPECT_EQ(cut.value.shape(), (Shape{4, 3, 3, 3}));
  ASSERT_EQ(cut.mask.shape(), cut.value.shape());
  EXPECT_EQ(cut.mask[0], 0.0f);
  EXPECT_EQ(cut.mask[9], 1.0f);  // what was input channel 2 is now channel 1
  EXPECT_EQ(smaller.parameter("bn1.running_mean").value.numel(), 3);
  EXPECT_EQ(smaller.metadata, model.metadata);
  EXPECT_EQ(smaller.node("conv1").output_shape, (Shape{3, 12, 12}));
}

TEST(ChannelRemoval, RemovingWhatMustStayIsAnError) {
  Model model = build(residual(false));
  const ChannelDependencies deps(model);
  std::vector<char> removed(deps.units().size(), 0);
  const ChannelGroup& logits = group_of(deps, "fc");
  removed[static_cast<size_t>(logits.units[0])] = 1;
  EXPECT_THROW(deps.remove(model, removed), Error);
  // Every channel of a value: a bad-input error naming the node.
  std::vector<char> all(deps.units().size(), 0);
  for (int u : group_of(deps, "conv2").units) all[static_cast<size_t>(u)] = 1;
  const std::string message = testing::bad_input_message([&] { deps.remove(model, all); });
  EXPECT_NE(message.find("node conv2"), std::string::npos) << message;
}

// --- compensation --------------------------------------------------------------------------

// The mean input sample of each node named, on the batch x.
ChannelDependencies::InputMeans mean_inputs(Model& model, const std::vector<std::string>& nodes,
                                            const Tensor& x) {
  model.forward(x);
  ChannelDependencies::InputMeans means;
  for (const auto& name : nodes) {
    const Tensor& v = model.value(model.node(name).inputs[0]);
    const int64_t n = v.dim(0), size = v.numel() / n;
    std::vector<double> sum(static_cast<size_t>(size), 0.0);
    for (int64_t s = 0; s < n; ++s)
      for (int64_t i = 0; i < size; ++i) sum[static_cast<size_t>(i)] += v[s * size + i];
    Tensor mean(model.node(model.node(name).inputs[0]).output_shape);
    for (int64_t i = 0; i < size; ++i) mean[i] = static_cast<float>(sum[static_cast<size_t>(i)] / n);
    means[name] = std::move(mean);
  }
  return means;
}

Tensor random_batch(const Model& model, int64_t n, uint64_t seed) {
  Rng rng(seed);
  Shape shape{n};
  shape.insert(shape.end(), model.input_shape().begin(), model.input_shape().end());
  Tensor x(shape);
  for (float& v : x) v = rng.normal(0.0f, 1.0f);
  return x;
}

// Zeroes filter `c` of a Conv2d (and its bias), so that channel is its BatchNorm's constant.
void zero_filter(Model& model, const std::string& conv, int64_t c) {
  Tensor& w = model.parameter(conv + ".weight").value;
  const int64_t size = w.numel() / w.dim(0);
  std::fill_n(w.data() + c * size, size, 0.0f);
  if (Parameter* b = model.find_parameter(conv + ".bias")) b->value[c] = 0.0f;
}

std::vector<char> remove_channel(const ChannelDependencies& deps, const std::string& node,
                                 int64_t c, std::vector<char> removed = {}) {
  if (removed.empty()) removed.assign(deps.units().size(), 0);
  removed[static_cast<size_t>(deps.channel_units(node)[static_cast<size_t>(c)])] = 1;
  return removed;
}

float max_difference(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  float d = 0.0f;
  for (int64_t i = 0; i < a.numel() && i < b.numel(); ++i) d = std::max(d, std::abs(a[i] - b[i]));
  return d;
}

// conv1 (3x3, padding 1) -> bn1 -> relu1 -> conv2 (3x3, no padding, no bias) -> bn2 -> relu2 ->
// flatten -> fc: conv2 reads conv1's channels (so its BatchNorm's running mean takes the
// compensation), fc reads conv2's through Flatten (its bias takes it).
const char* kUnpadded = R"({"input": {"name": "x", "shape": [2, 6, 6]}, "nodes": [
    {"name": "conv1", "type": "Conv2d", "attributes": {"out_channels": 4, "kernel_size": 3, "padding": 1}},
    {"name": "bn1", "type": "BatchNorm2d"},
    {"name": "relu1", "type": "ReLU"},
    {"name": "conv2", "type": "Conv2d", "attributes": {"out_channels": 3, "kernel_size": 3, "bias": false}},
    {"name": "bn2", "type": "BatchNorm2d"},
    {"name": "relu2", "type": "ReLU"},
    {"name": "flatten", "type": "Flatten"},
    {"name": "fc", "type": "Linear", "attributes": {"out_features": 3}}]})";

TEST(ChannelCompensation, AConstantChannelIsRemovedWithoutChangingAnyOutput) {
  Model model = build(kUnpadded, 7);
  zero_filter(model, "conv1", 1);
  zero_filter(model, "conv2", 2);
  // Positive shifts, so the ReLU passes the constant (a negative one would give zero: no test).
  model.parameter("bn1.bias").value[1] = 0.8f;
  model.parameter("bn2.bias").value[2] = 0.6f;
  const ChannelDependencies deps(model);
  const std::vector<char> removed = remove_channel(deps, "conv2", 2, remove_channel(deps, "conv1", 1));
  const std::vector<std::string> consumers = deps.compensable_consumers(model, removed);
  EXPECT_EQ(consumers, (std::vector<std::string>{"conv2", "fc"}));

  // Means from one batch, checked on another: the channels are constant, so any data will do.
  const auto means = mean_inputs(model, consumers, random_batch(model, 4, 1));
  Model compensated = deps.remove(model, removed, means);
  Model dropped = deps.remove(model, removed);
  EXPECT_EQ(compensated.parameter("conv1.weight").value.dim(0), 3);
  EXPECT_FALSE(compensated.find_parameter("conv2.bias"));  // bn2's running mean took it
  const Tensor x = random_batch(model, 5, 2);
  const Tensor want = model.forward(x);
  EXPECT_LE(max_difference(compensated.forward(x), want), 1e-5f);
  EXPECT_GT(max_difference(dropped.forward(x), want), 1e-2f);  // without it, the outputs move
}

// conv1 (3x3, padding 1) -> bn1 -> relu1 -> conv2 (3x3, padding 1, no bias, a ReLU after it):
// compensation needs a new bias on conv2, and the padded border reads zeros where the removed
// channel was constant.
const char* kPadded = R"({"input": {"name": "x", "shape": [1, 5, 5]}, "nodes": [
    {"name": "conv1", "type": "Conv2d", "attributes": {"out_channels": 3, "kernel_size": 3, "padding": 1}},
    {"name": "bn1", "type": "BatchNorm2d"},
    {"name": "relu1", "type": "ReLU"},
    {"name": "conv2", "type": "Conv2d", "attributes": {"out_channels": 2, "kernel_size": 3, "padding": 1, "bias": false}},
    {"name": "relu2", "type": "ReLU"},
    {"name": "pool", "type": "GlobalAvgPool"},
    {"name": "flatten", "type": "Flatten"},
    {"name": "fc", "type": "Linear", "attributes": {"out_features": 2}}]})";

// With padding the removed constant channel's contribution is smaller on the border (fewer
// taps read it) than inside: no bias matches both. The compensation is the mean over positions,
// the least-squares constant, so each output channel's mean over positions is exact and the
// interior is off by one constant (what the border lacks, spread over all positions).
TEST(ChannelCompensation, ZeroPaddingKeepsEachOutputsMeanOverPositions) {
  Model model = build(kPadded, 8);
  zero_filter(model, "conv1", 0);
  model.parameter("bn1.bias").value[0] = 0.9f;
  const ChannelDependencies deps(model);
  const std::vector<char> removed = remove_channel(deps, "conv1", 0);
  Model smaller = deps.remove(model, removed, mean_inputs(model, {"conv2"}, random_batch(model, 3, 3)));
  EXPECT_EQ(smaller.node("conv2").op->attributes()["bias"], true);
  ASSERT_TRUE(smaller.find_parameter("conv2.bias"));

  const Tensor x = random_batch(model, 2, 4);
  model.forward(x);
  smaller.forward(x);
  const Tensor& want = model.value("conv2");
  const Tensor& got = smaller.value("conv2");
  ASSERT_EQ(got.shape(), want.shape());
  float border = 0.0f;
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t o = 0; o < 2; ++o) {
      double mean_want = 0.0, mean_got = 0.0;
      const int64_t centre = ((n * 2 + o) * 5 + 2) * 5 + 2;
      const float offset = got[centre] - want[centre];
      for (int64_t i = 0; i < 5; ++i)
        for (int64_t j = 0; j < 5; ++j) {
          const int64_t k = ((n * 2 + o) * 5 + i) * 5 + j;
          if (i == 0 || j == 0 || i == 4 || j == 4)
            border = std::max(border, std::abs(got[k] - want[k] - offset));
          else
            EXPECT_NEAR(got[k] - want[k], offset, 1e-5f) << n << " " << o << " " << i << " " << j;
          mean_want += want[k];
          mean_got += got[k];
        }
      EXPECT_NEAR(mean_got / 25, mean_want / 25, 1e-5) << n << " " << o;
    }
  EXPECT_GT(border, 1e-3f);  // the padding's zeros: what a bias cannot follow
}

TEST(ChannelCompensation, OnlyConsumersThatLoseChannelsAreMeasured) {
  Model model = build(residual(true), 9);
  const ChannelDependencies deps(model);
  // Channel 0 of the stream (conv3 + down): conv2 reads relu1, not the stream; fc reads it
  // through the pool. conv1's channel 1: conv2 and down read it.
  EXPECT_EQ(deps.compensable_consumers(model, remove_channel(deps, "conv3", 0)),
            (std::vector<std::string>{"fc"}));
  EXPECT_EQ(deps.compensable_consumers(model, remove_channel(deps, "conv1", 1)),
            (std::vector<std::string>{"conv2", "down"}));
}

}  // namespace
}  // namespace shrink
