// prune.channels and its criteria: each criterion's scores against hand-computed values, the
// channels the pass removes for each, layer and global scope, min_channels, round_to, exclude,
// iterative schedules from a recipe, folding removed channels' means into the next layer's bias,
// re-estimating BatchNorm statistics after the cut, and the clear errors for bad options and unprunable models.
#include "../../src/compress/prune/bn_recalibration.hpp"
#include "../../src/compress/prune/channel_importance.hpp"
#include "shrink/compress/pass.hpp"
#include "shrink/core/random.hpp"
#include "shrink/nn/architectures.hpp"
#include "support/errors.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace shrink {
namespace {

using Json = nlohmann::json;
using testing::bad_input_message;

// x [1, 2, 2] -> conv (4 filters of 1x1 over 1 channel) -> bn -> relu -> conv2 (3) -> pool ->
// flatten -> fc (2 classes).
Model four_filter_model() {
  Model model = Model::from_graph_json(Json::parse(R"({
    "input": {"name": "x", "shape": [1, 2, 2]},
    "nodes": [
      {"name": "conv", "type": "Conv2d", "attributes": {"out_channels": 4, "kernel_size": 1}},
      {"name": "bn", "type": "BatchNorm2d"},
      {"name": "relu", "type": "ReLU"},
      {"name": "conv2", "type": "Conv2d", "attributes": {"out_channels": 3, "kernel_size": 1}},
      {"name": "pool", "type": "GlobalAvgPool"},
      {"name": "flatten", "type": "Flatten"},
      {"name": "fc", "type": "Linear", "attributes": {"out_features": 2}}]})"));
  model.initialize(3);
  return model;
}

void set(Model& model, const std::string& parameter, std::vector<float> values) {
  Parameter& p = model.parameter(parameter);
  ASSERT_EQ(p.value.numel(), static_cast<int64_t>(values.size())) << parameter;
  std::copy(values.begin(), values.end(), p.value.begin());
}

// Which of conv's original filters survive, identified by their (distinct) weights.
std::vector<float> surviving_filters(const Model& pruned) {
  const Tensor& w = pruned.parameter("conv.weight").value;
  return {w.begin(), w.end()};
}

Dataset blobs(int64_t n, const Shape& sample, int classes, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> features;
  std::vector<int32_t> labels;
  const int64_t size = element_count(sample);
  for (int64_t i = 0; i < n; ++i) {
    labels.push_back(static_cast<int32_t>(rng.below(static_cast<uint64_t>(classes))));
    for (int64_t d = 0; d < size; ++d) features.push_back(rng.normal(0.0f, 1.0f));
  }
  return Dataset::from_floats("blobs", sample, features, labels, classes);
}

Model prune(Model model, const Json& options, const Dataset* data = nullptr, Json* section = nullptr) {
  PassContext context;
  context.train = data;
  make_pass("prune.channels", options)->run(model, context);
  if (section) *section = context.sections.back();
  return model;
}

std::vector<double> conv_scores(Model& model, const std::string& criterion, const Dataset* data = nullptr) {
  const ChannelDependencies deps(model);
  CalibrationData calibration;
  calibration.data = data;
  const UnitScores s = channel_importance(model, deps, criterion, calibration);
  std::vector<double> out;
  for (int unit : deps.channel_units("conv")) out.push_back(s.score[static_cast<size_t>(unit)]);
  return out;
}

// Filters whose L1 and L2 rankings differ: L1 3, 4, 5, 4.8 and L2 3, 2, 5, 2.4 (as 2x2 filters
// of one input channel: [3,0,0,0], [1,1,1,1], [5,0,0,0], [1.2 x4]).
Model norm_model() {
  Model model = Model::from_graph_json(Json::parse(R"({
    "input": {"name": "x", "shape": [1, 3, 3]},
    "nodes": [
      {"name": "conv", "type": "Conv2d", "attributes": {"out_channels": 4, "kernel_size": 2, "bias": false}},
      {"name": "relu", "type": "ReLU"},
      {"name": "flatten", "type": "Flatten"},
      {"name": "fc", "type": "Linear", "attributes": {"out_features": 2}}]})"));
  model.initialize(1);
  set(model, "conv.weight", {3, 0, 0, 0, 1, 1, 1, 1, 5, 0, 0, 0, 1.2f, 1.2f, 1.2f, 1.2f});
  return model;
}

TEST(ChannelCriteria, L1AndL2AreFilterNorms) {
  Model model = norm_model();
  const auto l1 = conv_scores(model, "l1");
  const auto l2 = conv_scores(model, "l2");
  const std::vector<double> want_l1{3, 4, 5, 4.8}, want_l2{3, 2, 5, 2.4};
  for (size_t c = 0; c < 4; ++c) {
    EXPECT_NEAR(l1[c], want_l1[c], 1e-5) << c;
    EXPECT_NEAR(l2[c], want_l2[c], 1e-5) << c;
  }
  // Half the filters: L1 drops the two smallest sums, L2 the two shortest vectors.
  EXPECT_EQ(surviving_filters(prune(model.clone(), {{"ratio", 0.5}, {"criterion", "l1"}, {"scope", "layer"}})),
            (std::vector<float>{5, 0, 0, 0, 1.2f, 1.2f, 1.2f, 1.2f}));
  EXPECT_EQ(surviving_filters(prune(model.clone(), {{"ratio", 0.5}, {"criterion", "l2"}, {"scope", "layer"}})),
            (std::vector<float>{3, 0, 0, 0, 5, 0, 0, 0}));
}

TEST(ChannelCriteria, FpgmRemovesTheFiltersNearestTheGeometricMedian) {
  Model model = norm_model();
  // One-weight filters 0, 1, 2, 10 (as [w, 0, 0, 0]): distance sums 13, 11, 11, 27.
  set(model, "conv.weight", {0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 10, 0, 0, 0});
  const auto s = conv_scores(model, "fpgm");
  const std::vector<double> want{13, 11, 11, 27};
  for (size_t c = 0; c < 4; ++c) EXPECT_NEAR(s[c], want[c], 1e-5) << c;
  // l1 would drop 0 and 1; fpgm drops the two in the middle.
  EXPECT_EQ(surviving_filters(prune(model.clone(), {{"ratio", 0.5}, {"criterion", "fpgm"}, {"scope", "layer"}})),
            (std::vector<float>{0, 0, 0, 0, 10, 0, 0, 0}));
}

TEST(ChannelCriteria, BnReadsTheScaleMagnitudes) {
  Model model = four_filter_model();
  set(model, "conv.weight", {1, 2, 3, 4});
  set(model, "bn.weight", {0.1f, -2.0f, 0.5f, 0.05f});
  const auto s = conv_scores(model, "bn");
  const std::vector<double> want{0.1, 2.0, 0.5, 0.05};
  for (size_t c = 0; c < 4; ++c) EXPECT_NEAR(s[c], want[c], 1e-6) << c;
  Model pruned = prune(model.clone(), {{"ratio", 0.5}, {"criterion", "bn"}, {"scope", "layer"}});
  EXPECT_EQ(surviving_filters(pruned), (std::vector<float>{2, 3}));
  const Tensor& gamma = pruned.parameter("bn.weight").value;
  EXPECT_EQ(std::vector<float>(gamma.begin(), gamma.end()), (std::vector<float>{-2.0f, 0.5f}));
}

TEST(ChannelCriteria, ApozCountsZerosAfterTheRelu) {
  Model model = four_filter_model();
  // Zero filters: each channel is its BatchNorm's shift, always negative (all zeros after the
  // ReLU), always positive, or negative/positive by the sign of the input (filter 2 only).
  set(model, "conv.weight", {0, 0, 1, 0});
  set(model, "conv.bias", {0, 0, 0, 0});
  set(model, "bn.bias", {-1, 1, 0, 1});
  const Dataset data = blobs(64, {1, 2, 2}, 2, 5);
  const auto s = conv_scores(model, "apoz", &data);
  EXPECT_DOUBLE_EQ(s[0], 0.0);  // 100% zeros
  EXPECT_DOUBLE_EQ(s[1], 1.0);
  EXPECT_NEAR(s[2], 0.5, 0.1);  // standard normal inputs: half are negative
  EXPECT_DOUBLE_EQ(s[3], 1.0);
  EXPECT_EQ(surviving_filters(prune(model.clone(), {{"ratio", 0.25}, {"criterion", "apoz"}, {"scope", "layer"}}, &data)),
            (std::vector<float>{0, 1, 0}));
}

TEST(ChannelCriteria, TaylorIsActivationTimesGradientOnTheCalibrationSamples) {
  // x [2] -> fc1 (3) -> fc2 (2 logits): one sample, label 0, by hand.
  Model model = Model::from_graph_json(Json::parse(R"({
    "input": {"name": "x", "shape": [2]},
    "nodes": [{"name": "fc1", "type": "Linear", "attributes": {"out_features": 3}},
              {"name": "fc2", "type": "Linear", "attributes": {"out_features": 2}}]})"));
  set(model, "fc1.weight", {1, 2, -1, 0.5f, 0.3f, -0.7f});
  set(model, "fc1.bias", {0.1f, -0.2f, 0.3f});
  set(model, "fc2.weight", {0.4f, -0.6f, 0.2f, -0.5f, 0.8f, 0.1f});
  set(model, "fc2.bias", {0.05f, -0.05f});
  const Dataset data = Dataset::from_floats("one", {2}, {1.5f, -0.5f}, {0}, 2);
  const double x0 = 1.5, x1 = -0.5;
  const double a[3] = {1 * x0 + 2 * x1 + 0.1, -1 * x0 + 0.5 * x1 - 0.2, 0.3 * x0 - 0.7 * x1 + 0.3};
  const double w2[2][3] = {{0.4, -0.6, 0.2}, {-0.5, 0.8, 0.1}};
  double z[2];
  for (int k = 0; k < 2; ++k) z[k] = w2[k][0] * a[0] + w2[k][1] * a[1] + w2[k][2] * a[2] + (k ? -0.05 : 0.05);
  const double p1 = 1.0 / (1.0 + std::exp(z[0] - z[1]));
  const double dz[2] = {(1 - p1) - 1.0, p1};  // softmax - one_hot(0)
  const ChannelDependencies deps(model);
  CalibrationData calibration{&data, 1, 1, 0};
  const UnitScores s = channel_importance(model, deps, "taylor", calibration);
  for (int c = 0; c < 3; ++c) {
    const double g = w2[0][c] * dz[0] + w2[1][c] * dz[1];
    const int unit = deps.channel_units("fc1")[static_cast<size_t>(c)];
    EXPECT_NEAR(s.score[static_cast<size_t>(unit)], std::abs(a[c] * g), 1e-5) << c;
  }
}

TEST(ChannelPruner, GlobalScopeRanksAcrossGroupsAfterDividingByTheirMean) {
  // conv has scores 1, 1, 1, 9 (mean 3: normalised 1/3 x3 and 3); conv2's three channels
  // score 2, 3, 4 (mean 3: 2/3, 1, 4/3). Removing 3 of the 7 channels globally takes the
  // three lowest normalised: conv's 0, 1, 2 ... but min_channels 2 stops conv at two.
  Model model = four_filter_model();
  set(model, "conv.weight", {1, 1, 1, 9});
  set(model, "conv2.weight", {2, 0, 0, 0, 0, 3, 0, 0, 0, 0, 4, 0});
  Json section;
  Model pruned = prune(model.clone(), {{"ratio", 3.0 / 7.0}, {"scope", "global"}, {"min_channels", 2}},
                       nullptr, &section);
  EXPECT_EQ(pruned.node("conv").output_shape[0], 2);
  EXPECT_EQ(pruned.node("conv2").output_shape[0], 2);  // 2/3 was next
  EXPECT_EQ(section["channels_before"], 7);
  EXPECT_EQ(section["channels_after"], 4);
  // Per layer, each group loses round(ratio x its size).
  Model layer = prune(model.clone(), {{"ratio", 0.5}, {"scope", "layer"}});
  EXPECT_EQ(layer.node("conv").output_shape[0], 2);
  EXPECT_EQ(layer.node("conv2").output_shape[0], 1);  // 3 - round(1.5)
}

TEST(ChannelPruner, RoundToKeepsMultiplesAndMinChannelsAFloor) {
  Model model = build_architecture("vgg-small", {1, 8, 8}, 10, {{"channels", {16, 24}}});
  Model rounded = prune(model.clone(), {{"ratio", 0.6}, {"round_to", 8}, {"scope", "layer"}});
  for (const char* conv : {"block1.conv1", "block1.conv2", "block2.conv1", "block2.conv2"})
    EXPECT_EQ(rounded.node(conv).output_shape[0] % 8, 0) << conv;
  EXPECT_EQ(rounded.node("block1.conv1").output_shape[0], 8);   // 16 * 0.4 = 6.4 -> 8
  EXPECT_EQ(rounded.node("block2.conv1").output_shape[0], 8);   // 24 * 0.4 = 9.6 -> 8
  Model floored = prune(model.clone(), {{"ratio", 0.9}, {"min_channels", 4}, {"scope", "layer"}});
  EXPECT_EQ(floored.node("block1.conv1").output_shape[0], 4);
  EXPECT_EQ(floored.node("fc").output_shape[0], 10);  // the classifier stays
}

TEST(ChannelPruner, ResnetLosesHalfItsChannelsAndRuns) {
  Model model = build_architecture("resnet-small", {1, 16, 16}, 10);
  Json section;
  Model pruned = prune(model.clone(), {{"ratio", 0.5}, {"scope", "global"}}, nullptr, &section);
  EXPECT_LT(2 * pruned.macs(), model.macs());
  EXPECT_LT(2 * pruned.parameter_count(), model.parameter_count());
  EXPECT_EQ(section["channels_before"].get<int64_t>(), 16 + 16 + 32 + 32 + 32);
  EXPECT_EQ(section["channels_after"].get<int64_t>(), 64);
  ASSERT_EQ(section["untouched"].size(), 1u);  // the classifier
  EXPECT_EQ(section["untouched"][0]["producers"], Json::array({"fc"}));
  // The residual streams are single groups: conv1 with layer1.0.conv2, and the projection with
  // both blocks of layer2.
  bool stream = false;
  for (const Json& g : section["groups"])
    stream |= g["producers"] == Json::array({"layer2.0.conv2", "layer2.0.downsample.0", "layer2.1.conv2"});
  EXPECT_TRUE(stream) << section["groups"].dump();
  Tensor x({2, 1, 16, 16}, 0.5f);
  EXPECT_EQ(pruned.forward(x).shape(), (Shape{2, 10}));
}

TEST(ChannelPruner, ExcludedLayersAndUnscorableGroupsStayAndAreNamed) {
  Model model = build_architecture("lenet5", {1, 28, 28}, 10);
  Json section;
  // lenet5 has no ReLU after its convolutions: apoz can score fc1 only.
  const Dataset data = blobs(32, {1, 28, 28}, 10, 2);
  Model pruned = prune(model.clone(), {{"ratio", 0.5}, {"criterion", "apoz"}, {"calibration_batches", 1}, {"scope", "layer"}},
                       &data, &section);
  EXPECT_EQ(pruned.node("conv1").output_shape[0], 20);
  EXPECT_EQ(pruned.node("fc1").output_shape[0], 250);
  const std::string untouched = section["untouched"].dump();
  EXPECT_NE(untouched.find("no ReLU follows"), std::string::npos) << untouched;
  Model kept = prune(model.clone(), {{"ratio", 0.5}, {"exclude", {"conv2.weight"}}, {"scope", "layer"}}, nullptr, &section);
  EXPECT_EQ(kept.node("conv2").output_shape[0], 50);
  EXPECT_EQ(kept.node("conv1").output_shape[0], 10);
  EXPECT_NE(section["untouched"].dump().find("excluded"), std::string::npos);
}

TEST(ChannelPruner, IterativeRecipePrunesFromWhatIsLeft) {
  Model model = build_architecture("vgg-small", {1, 8, 8}, 10, {{"channels", {16, 32}}});
  const Recipe recipe = Recipe::from_json(Json::parse(R"({"passes": [
      {"pass": "prune.channels", "ratio": 0.25, "scope": "layer"},
      {"pass": "prune.channels", "ratio": 0.5, "scope": "layer"}]})"));
  PassContext context;
  recipe.run(model, context);
  EXPECT_EQ(model.node("block1.conv1").output_shape[0], 6);  // 16 -> 12 -> 6
  EXPECT_EQ(model.node("block2.conv2").output_shape[0], 12);  // 32 -> 24 -> 12
  ASSERT_EQ(context.sections.size(), 2u);
  EXPECT_EQ(context.sections[1]["channels_before"], 12 + 12 + 24 + 24);
}

TEST(ChannelPruner, RemovedChannelsMeansGoIntoTheNextLayersBias) {
  // conv's filter 3 is zero: after bn and relu that channel is the constant relu(shift). l1
  // removes it; with calibration data its contribution moves into conv2's bias and the model
  // computes what it computed before.
  Model model = four_filter_model();
  set(model, "conv.weight", {0.5f, -2, 3, 0});
  set(model, "conv.bias", {0.1f, 0.2f, -0.3f, 0});
  set(model, "bn.bias", {0.1f, -0.2f, 0.3f, 0.7f});
  const Dataset data = blobs(64, {1, 2, 2}, 2, 4);
  Json section;
  // conv2's channels vary with the input: excluded, so only the constant channel goes.
  // Recalibrating bn would move its statistics to the 64 samples' (the test is of compensation).
  const Json options = {{"ratio", 0.25}, {"scope", "layer"}, {"exclude", {"conv2"}},
                        {"calibration_batches", 1}, {"recalibrate_bn", false}};
  Model pruned = prune(model.clone(), options, &data, &section);
  EXPECT_EQ(surviving_filters(pruned), (std::vector<float>{0.5f, -2, 3}));
  EXPECT_EQ(section["compensated"], Json::array({"conv2"}));
  Tensor x({4, 1, 2, 2});
  Rng rng(9);
  for (float& v : x) v = rng.normal(0.0f, 1.0f);
  const Tensor want = model.forward(x);
  const Tensor got = pruned.forward(x);
  for (int64_t i = 0; i < want.numel(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5f) << i;

  // Switched off, or without data to measure on, the channel's contribution is simply gone.
  Json switched_off = options;
  switched_off["compensate"] = false;
  Model off = prune(model.clone(), switched_off, &data, &section);
  EXPECT_EQ(section["compensated"], "off (option compensate)");
  const Tensor dropped = off.forward(x);
  float moved = 0.0f;
  for (int64_t i = 0; i < want.numel(); ++i) moved = std::max(moved, std::abs(dropped[i] - want[i]));
  EXPECT_GT(moved, 1e-3f);
  prune(model.clone(), options, nullptr, &section);
  EXPECT_NE(section["compensated"].get<std::string>().find("no training data"), std::string::npos);
}

TEST(ChannelPruner, BatchNormStatisticsAreReestimatedOnTheCalibrationBatches) {
  // bn's running statistics become the mean and unbiased variance of conv's outputs over every
  // calibration sample and position (conv comes first, so training mode changes nothing there).
  Model model = four_filter_model();
  set(model, "bn.running_mean", {5, 5, 5, 5});
  set(model, "bn.running_var", {9, 9, 9, 9});
  const Dataset data = blobs(40, {1, 2, 2}, 2, 6);
  const std::vector<std::string> names = recalibrate_batch_norms(model, CalibrationData{&data, 2, 16, 3});
  EXPECT_EQ(names, (std::vector<std::string>{"bn"}));
  // The same 32 samples (two batches of 16 of the seeded shuffle) by hand.
  Model reference = four_filter_model();
  std::vector<double> sum(4, 0.0), squares(4, 0.0);
  double count = 0.0;
  for_each_calibration_batch(CalibrationData{&data, 2, 16, 3}, [&](const Tensor& x, const std::vector<int32_t>&) {
    reference.forward(x);
    const Tensor& v = reference.value("conv");
    for (int64_t s = 0; s < x.dim(0); ++s)
      for (int64_t c = 0; c < 4; ++c)
        for (int64_t i = 0; i < 4; ++i) {
          const double e = v[(s * 4 + c) * 4 + i];
          sum[static_cast<size_t>(c)] += e;
          squares[static_cast<size_t>(c)] += e * e;
        }
    count += static_cast<double>(x.dim(0) * 4);
  });
  EXPECT_EQ(count, 32.0 * 4);
  for (int64_t c = 0; c < 4; ++c) {
    const double mean = sum[static_cast<size_t>(c)] / count;
    const double var = (squares[static_cast<size_t>(c)] - count * mean * mean) / (count - 1);
    EXPECT_NEAR(model.parameter("bn.running_mean").value[c], mean, 1e-5) << c;
    EXPECT_NEAR(model.parameter("bn.running_var").value[c], var, 1e-4) << c;
  }
  // The pass does it after removing channels, and says so; without data it cannot.
  Json section;
  prune(model.clone(), {{"ratio", 0.25}, {"scope", "layer"}}, &data, &section);
  EXPECT_EQ(section["recalibrated_bn"], Json::array({"bn"}));
  prune(model.clone(), {{"ratio", 0.25}, {"scope", "layer"}}, nullptr, &section);
  EXPECT_NE(section["recalibrated_bn"].get<std::string>().find("no training data"), std::string::npos);
  prune(model.clone(), {{"ratio", 0.25}, {"scope", "layer"}, {"recalibrate_bn", false}}, &data, &section);
  EXPECT_EQ(section["recalibrated_bn"], "off (option recalibrate_bn)");
}

TEST(ChannelPruner, BadOptionsAndUnprunableModelsAreClearErrors) {
  EXPECT_NE(bad_input_message([] { make_pass("prune.channels", {{"ratio", 1.0}}); }).find("ratio"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] { make_pass("prune.channels", {{"ratio", -0.1}}); }).find("[0, 1)"),
            std::string::npos);
  const std::string criterion =
      bad_input_message([] { make_pass("prune.channels", {{"criterion", "random"}}); });
  EXPECT_NE(criterion.find("unknown criterion 'random'"), std::string::npos) << criterion;
  EXPECT_NE(criterion.find("fpgm"), std::string::npos) << criterion;
  EXPECT_NE(bad_input_message([] { make_pass("prune.channels", {{"scope", "model"}}); }).find("scope"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] { make_pass("prune.channels", {{"round_to", 0}}); }).find("round_to"),
            std::string::npos);
  const std::string compensate =
      bad_input_message([] { make_pass("prune.channels", {{"compensate", "yes"}}); });
  EXPECT_NE(compensate.find("compensate"), std::string::npos) << compensate;
  const std::string recalibrate =
      bad_input_message([] { make_pass("prune.channels", {{"recalibrate_bn", 1}}); });
  EXPECT_NE(recalibrate.find("recalibrate_bn"), std::string::npos) << recalibrate;

  // Logistic regression: the only producer is the output.
  Model linear = Model::from_graph_json(Json::parse(R"({"input": {"name": "x", "shape": [4]},
      "nodes": [{"name": "fc", "type": "Linear", "attributes": {"out_features": 3}}]})"));
  const std::string none = bad_input_message([&] { prune(linear.clone(), {{"ratio", 0.5}}); });
  EXPECT_NE(none.find("no channels prune.channels can remove"), std::string::npos) << none;
  EXPECT_NE(none.find("model's output"), std::string::npos) << none;

  Model model = four_filter_model();
  EXPECT_NE(bad_input_message([&] { prune(model.clone(), {{"exclude", {"relu"}}}); }).find("conv2"),
            std::string::npos);
  const std::string data =
      bad_input_message([&] { prune(model.clone(), {{"criterion", "taylor"}}); });
  EXPECT_NE(data.find("calibration data"), std::string::npos) << data;
}

}  // namespace
}  // namespace shrink
