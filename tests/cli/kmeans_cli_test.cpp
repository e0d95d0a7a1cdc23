// `shrink compress --quantize kmeans` end to end on a Fashion-MNIST subset: pruned weights shared
// by k-means at 5 bits (fully connected), centroids fine-tuned, the file stores codes and
// codebooks, evaluates to the accuracy the report claims, and bad flags are one clear error.
#include "support/cli.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

namespace shrink::testing {
namespace {

namespace fs = std::filesystem;

class KMeansCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    has_data_ = write_fashion_mnist_subset(dir_->path().string(), 2000, 500);
    if (!has_data_) return;
    data_ = "fashion-mnist:" + dir_->path().string();
    model_ = dir_->file("mlp.shrk");
    train_ = run_cli({"train", "--arch", "mlp", "--hidden", "64", "32", "--data", data_, "--epochs",
                      "2", "--threads", "2", "-q", "-o", model_});
  }
  static void TearDownTestSuite() { delete dir_; }

  void SetUp() override {
    if (!has_data_) GTEST_SKIP() << "Fashion-MNIST is not installed (dataset-fashion-mnist)";
    ASSERT_EQ(train_.exit_code, 0) << train_.err;
  }

  static inline TempDir* dir_ = nullptr;
  static inline bool has_data_ = false;
  static inline std::string data_, model_;
  static inline CliResult train_;
};

TEST_F(KMeansCli, PrunedSharedAndFineTunedWeightsStoreAsCodesAndEvaluateAsReported) {
  const std::string out = dir_->file("dc.shrk");
  const CliResult r = run_cli({"compress", model_, "--data", data_, "-o", out, "--report",
                               dir_->file("dc.json"), "-q", "--prune", "magnitude:0.8",
                               "--quantize", "kmeans", "--finetune-epochs", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = read_json(dir_->file("dc.json"));
  ASSERT_EQ(report["layers"].size(), 3u);
  for (const auto& layer : report["layers"]) {
    EXPECT_EQ(layer["format"], "kmeans");
    EXPECT_EQ(layer["bits"], 5) << "fully connected layers share 32 values";
    EXPECT_TRUE(layer["encoding"] == "quantized-bitmap" || layer["encoding"] == "quantized-delta8")
        << layer;
  }
  EXPECT_LE(report["file_bytes_after"].get<double>(), 0.08 * report["file_bytes_before"].get<double>());
  EXPECT_GT(report["accuracy_after"].get<double>(), report["accuracy_before"].get<double>() - 0.05);
  const auto eval = run_cli({"eval", out, "--data", data_, "--report", dir_->file("dc-eval.json"), "-q"});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_DOUBLE_EQ(read_json(dir_->file("dc-eval.json"))["accuracy"].get<double>(),
                   report["accuracy_after"].get<double>());
  const auto inspect = run_cli({"inspect", out});
  EXPECT_NE(inspect.out.find("kmeans:5"), std::string::npos) << inspect.out;
}

TEST_F(KMeansCli, BadKMeansFlagsAreClearErrors) {
  auto run = [&](const std::string& spec) {
    return run_cli({"compress", model_, "--data", data_, "-o", dir_->file("bad.shrk"), "-q",
                    "--quantize", spec});
  };
  expect_clear_error(run("kmeans:9"), "bits must be in 1..8, got 9");
  expect_clear_error(run("kmeans:4,init=random"), "init must be 'linear'");
  expect_clear_error(run("kmeans:4,seed=-3"), "seed must not be negative");
  EXPECT_FALSE(fs::exists(dir_->file("bad.shrk")));
}

}  // namespace
}  // namespace shrink::testing
