// `shrink compress --prune channels:RATIO` end to end on a real Fashion-MNIST subset: the saved
// model is really smaller (file, parameters, MACs), the report gives the per-layer changes, the
// groups and the timing before and after, ONNX output carries the smaller shapes, and bad flags
// are one clear error line.
#include "support/cli.hpp"
#include "support/fashion_mnist_suite.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

namespace shrink::testing {
namespace {

class ChannelsCli : public FashionMnistSuite<ChannelsCli> {
 public:
  static constexpr int kTrain = 2000, kTest = 500;
  static void prepare() {
    model_ = dir_->file("vgg.shrk");
    setup({"train", "--arch", "vgg-small", "--arch-options", R"({"channels": [8, 16]})", "--data", data_,
           "--epochs", "1", "--batch", "32", "--threads", "2", "-q", "-o", model_});
  }
};

TEST_F(ChannelsCli, RemovesChannelsAndReportsLayersGroupsAndTiming) {
  const std::string out = dir_->file("pruned.shrk"), report = dir_->file("pruned.json");
  const CliResult r = run_cli({"compress", model_, "--prune", "channels:0.5", "--criterion", "l2",
                              "--finetune-epochs", "1", "--data", data_, "--threads", "2",
                              "--latency-batches", "1", "8", "-o", out, "--report", report});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = read_json(report);
  EXPECT_LT(j["file_bytes_after"].get<double>(), 0.5 * j["file_bytes_before"].get<double>());
  EXPECT_LT(j["parameters_after"].get<double>(), 0.5 * j["parameters_before"].get<double>());
  EXPECT_LT(j["macs_after"].get<double>(), 0.5 * j["macs_before"].get<double>());
  EXPECT_TRUE(j["shapes_changed"].get<bool>());

  const nlohmann::json& pass = j["passes"][0];
  EXPECT_EQ(pass["pass"], "prune.channels");
  EXPECT_EQ(pass["options"]["criterion"], "l2");
  EXPECT_EQ(pass["options"]["scope"], "global");  // the CLI's default scope
  EXPECT_EQ(pass["channels_before"], 8 + 8 + 16 + 16);
  EXPECT_EQ(pass["channels_after"], 24);
  EXPECT_EQ(pass["untouched"][0]["producers"], nlohmann::json::array({"fc"}));
  // With --data, the removed channels' means went into the biases of the layers reading them.
  EXPECT_EQ(pass["compensated"], nlohmann::json::array({"block1.conv2", "block2.conv1", "block2.conv2", "fc"}));

  bool conv_row = false;
  for (const auto& l : j["layer_changes"])
    if (l["name"] == "block1.conv1") {
      conv_row = true;
      EXPECT_EQ(l["channels_before"], 8);
      EXPECT_LT(l["channels_after"].get<int>(), 8);
      EXPECT_LT(l["macs_after"].get<int64_t>(), l["macs_before"].get<int64_t>());
    }
  EXPECT_TRUE(conv_row) << j["layer_changes"].dump();
  ASSERT_EQ(j["latency"].size(), 2u);
  EXPECT_EQ(j["latency"][0]["batch"], 1);
  EXPECT_EQ(j["latency"][1]["batch"], 8);
  EXPECT_GT(j["latency"][1]["after"]["median_ms"].get<double>(), 0.0);
  EXPECT_NE(r.out.find("block1.conv1"), std::string::npos) << r.out;  // the per-layer table
  EXPECT_NE(r.out.find("batch 8:"), std::string::npos) << r.out;

  // The smaller model evaluates to the accuracy the report gave.
  const CliResult eval = run_cli({"eval", out, "--data", data_, "--report", dir_->file("eval.json")});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_DOUBLE_EQ(read_json(dir_->file("eval.json"))["accuracy"].get<double>(),
                   j["accuracy_after"].get<double>());
}

TEST_F(ChannelsCli, OnnxOutputHasTheSmallerShapes) {
  const std::string out = dir_->file("pruned.onnx"), report = dir_->file("onnx.json");
  const CliResult r = run_cli({"compress", model_, "--prune", "channels:0.5,round_to=4",
                              "--scope", "layer", "--data", data_, "--no-latency", "-o", out,
                              "--report", report});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = read_json(report);
  EXPECT_LT(j["file_bytes_after"].get<double>(), 0.5 * j["file_bytes_before"].get<double>());
  EXPECT_TRUE(j["latency"].empty());
  EXPECT_EQ(j["passes"][0]["options"]["round_to"], 4);
  const CliResult inspect = run_cli({"inspect", out, "--json"});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  const nlohmann::json layers = nlohmann::json::parse(inspect.out)["layers"];
  for (const auto& l : layers)
    if (l["name"] == "block2.conv2") EXPECT_EQ(l["output_shape"][0], 8);
}

TEST_F(ChannelsCli, BadFlagsAreClearErrors) {
  const std::string out = dir_->file("x.shrk");
  expect_clear_error(run_cli({"compress", model_, "--prune", "channels:1.5", "--data", data_, "-o", out}),
                     "ratio");
  expect_clear_error(run_cli({"compress", model_, "--prune", "channels:0.5", "--criterion", "random",
                              "--data", data_, "-o", out}),
                     "unknown criterion 'random'");
  expect_clear_error(run_cli({"compress", model_, "--prune", "magnitude:0.5", "--criterion", "l1",
                              "--data", data_, "-o", out}),
                     "--criterion");
  expect_clear_error(run_cli({"compress", model_, "--prune", "channels", "--data", data_, "-o", out}),
                     "channels:0.5");
  expect_clear_error(run_cli({"compress", model_, "--prune", "channels:0.5,compensate=maybe",
                              "--data", data_, "-o", out}),
                     "compensate");
  EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
}  // namespace shrink::testing
