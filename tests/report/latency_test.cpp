// measure_latency and compare_latency: they time real forward passes (a model twice as deep
// takes longer), honour their repeat options, and reject bad arguments; compare_models lists the
// layers of a model and of its structurally pruned version side by side.
#include "shrink/report/comparison.hpp"
#include "shrink/report/latency.hpp"

#include "shrink/nn/architectures.hpp"
#include "shrink/nn/channel_dependencies.hpp"
#include "support/errors.hpp"

#include <gtest/gtest.h>

namespace shrink {
namespace {

TEST(Latency, TimesForwardPassesAndHonoursTheRepeatOptions) {
  Model model = build_architecture("mlp", {16}, 4, {{"hidden", {32}}});
  LatencyOptions options;
  options.warmup = 1;
  options.min_repeats = 3;
  options.max_repeats = 7;
  options.min_seconds = 0.0;  // stop at min_repeats
  const Latency l = measure_latency(model, 8, options);
  EXPECT_EQ(l.batch, 8);
  EXPECT_EQ(l.repeats, 3);
  EXPECT_GT(l.median_ms, 0.0);
  EXPECT_LE(l.min_ms, l.median_ms);
  EXPECT_LE(l.median_ms, l.max_ms);
  EXPECT_NEAR(l.samples_per_s(), 8 * 1000.0 / l.median_ms, 1e-6);
  options.min_seconds = 1e9;  // never long enough: stops at max_repeats
  EXPECT_EQ(measure_latency(model, 1, options).repeats, 7);
  const nlohmann::json json = l.to_json();
  for (const char* key : {"batch", "repeats", "median_ms", "min_ms", "max_ms", "samples_per_s"})
    EXPECT_TRUE(json.contains(key)) << key;
}

// What the comparison computes, not how fast this machine is at the moment: a unit test that
// asserts a speed-up fails whenever the machine is busy (ctest -j2 runs two tests at once on two
// cores, and OpenMP threads then spin against each other). The speed-up of pruned models is
// measured side by side in bench/channels_side_by_side.sh.
TEST(Latency, ComparisonTimesBothModelsAndReportsTheRatioOfMedians) {
  Model wide = build_architecture("vgg-small", {1, 28, 28}, 10, {{"channels", {16, 32}}});
  Model narrow = build_architecture("vgg-small", {1, 28, 28}, 10, {{"channels", {4, 8}}});
  LatencyOptions options;
  options.min_repeats = 3;
  options.min_seconds = 0.0;
  const LatencyComparison c = compare_latency(wide, narrow, 4, options);
  EXPECT_EQ(c.before.repeats, 3);
  EXPECT_EQ(c.after.repeats, 3);
  EXPECT_EQ(c.before.batch, 4);
  EXPECT_GT(c.after.median_ms, 0.0);
  EXPECT_DOUBLE_EQ(c.speedup(), c.before.median_ms / c.after.median_ms);
  const nlohmann::json json = c.to_json();
  EXPECT_EQ(json["batch"], 4);
  EXPECT_DOUBLE_EQ(json["speedup"].get<double>(), c.speedup());
  EXPECT_DOUBLE_EQ(json["before"]["median_ms"].get<double>(), c.before.median_ms);
}

TEST(Latency, BadArgumentsAreClearErrors) {
  Model model = build_architecture("mlp", {16}, 4);
  EXPECT_NE(testing::bad_input_message([&] { measure_latency(model, 0); }).find("batch"),
            std::string::npos);
  LatencyOptions bad;
  bad.min_repeats = 0;
  EXPECT_NE(testing::bad_input_message([&] { measure_latency(model, 1, bad); }).find("min_repeats"),
            std::string::npos);
  Model other = build_architecture("mlp", {8}, 4);
  EXPECT_NE(testing::bad_input_message([&] { compare_latency(model, other, 1); }).find("same input"),
            std::string::npos);
}

TEST(ModelComparison, ShowsChannelsParametersAndMacsBeforeAndAfter) {
  Model model = build_architecture("lenet5", {1, 28, 28}, 10);
  const ChannelDependencies deps(model);
  std::vector<char> removed(deps.units().size(), 0);
  for (int u : deps.groups()[0].units) removed[static_cast<size_t>(u)] = u % 2;  // conv1: 10 of 20
  Model smaller = deps.remove(model, removed);
  const ModelComparison c = compare_models(model, smaller);
  EXPECT_TRUE(c.shapes_changed());
  ASSERT_EQ(c.layers.size(), 4u);  // conv1, conv2, fc1, fc2 (pools and ReLU have no MACs)
  const LayerChange& conv1 = c.layers[0];
  EXPECT_EQ(conv1.name, "conv1");
  EXPECT_EQ(conv1.channels_before, 20);
  EXPECT_EQ(conv1.channels_after, 10);
  EXPECT_EQ(conv1.parameters_before, 20 * 25 + 20);
  EXPECT_EQ(conv1.parameters_after, 10 * 25 + 10);
  EXPECT_EQ(conv1.macs_after * 2, conv1.macs_before);
  EXPECT_EQ(c.layers[1].channels_before, c.layers[1].channels_after);  // conv2 keeps its filters
  EXPECT_EQ((c.layers[1].parameters_after - 50) * 2, c.layers[1].parameters_before - 50);  // half its inputs
  EXPECT_EQ(c.parameters_before, model.parameter_count());
  EXPECT_EQ(c.macs_after, smaller.macs());
  const std::string table = c.to_table();
  EXPECT_NE(table.find("20 -> 10"), std::string::npos) << table;
  EXPECT_FALSE(compare_models(model, model).shapes_changed());
  EXPECT_EQ(c.to_json()["layers"].size(), 4u);
}

}  // namespace
}  // namespace shrink
