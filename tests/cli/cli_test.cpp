// End-to-end runs of the shrink binary: the user's path through train, eval, inspect and
// compress on a real (small) Fashion-MNIST subset, and the clear-error contract on bad input.
#include "support/cli.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace shrink::testing {
namespace {

namespace fs = std::filesystem;

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    has_data_ = write_fashion_mnist_subset(dir_->path().string(), 3000, 1000);
    if (!has_data_) return;
    data_ = "fashion-mnist:" + dir_->path().string();
    model_ = dir_->file("mlp.shrk");
    train_ = run_cli({"train", "--arch", "lenet-300-100", "--data", data_, "--epochs", "3",
                      "--batch", "32", "--lr", "0.01", "--threads", "2", "-q", "-o", model_,
                      "--report", dir_->file("train.json")});
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

TEST_F(CliTest, TrainReachesRealAccuracyAndReportsIt) {
  const auto report = read_json(dir_->file("train.json"));
  EXPECT_GT(report["accuracy"].get<double>(), 0.70);
  EXPECT_EQ(report["test"]["samples"].get<int64_t>(), 1000);
  EXPECT_EQ(report["epochs"].size(), 3u);
  EXPECT_EQ(report["parameters"].get<int64_t>(), 266610);
  EXPECT_EQ(report["file_bytes"].get<int64_t>(), static_cast<int64_t>(fs::file_size(model_)));
  EXPECT_NE(train_.out.find("test accuracy"), std::string::npos);
}

TEST_F(CliTest, EvalMatchesTheTrainingReport) {
  const auto r = run_cli({"eval", model_, "--data", data_, "--report", dir_->file("eval.json"), "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = read_json(dir_->file("eval.json"));
  for (const char* key : {"accuracy", "loss", "samples", "samples_per_s", "top5_accuracy"})
    EXPECT_TRUE(report.contains(key)) << key;
  EXPECT_EQ(report["samples"].get<int64_t>(), 1000);
  EXPECT_DOUBLE_EQ(report["accuracy"].get<double>(),
                   read_json(dir_->file("train.json"))["accuracy"].get<double>());
  EXPECT_NE(r.out.find("accuracy"), std::string::npos);
}

TEST_F(CliTest, InspectShowsEveryLayer) {
  const auto r = run_cli({"inspect", model_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* text : {"fc1", "fc2", "fc3", "Linear", "dense", "266.6K"})
    EXPECT_NE(r.out.find(text), std::string::npos) << text << " in\n" << r.out;
  const auto json_run = run_cli({"inspect", model_, "--json"});
  ASSERT_EQ(json_run.exit_code, 0);
  const auto report = nlohmann::json::parse(json_run.out);
  EXPECT_EQ(report["parameters"].get<int64_t>(), 266610);
  EXPECT_EQ(report["macs"].get<int64_t>(), 266200);
}

TEST_F(CliTest, CompressPrunesAndTheFileReallyShrinks) {
  const std::string out = dir_->file("pruned.shrk");
  const auto r = run_cli({"compress", model_, "--prune", "magnitude:0.9", "--finetune-epochs", "1",
                          "--data", data_, "-o", out, "--report", dir_->file("compress.json"), "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = read_json(dir_->file("compress.json"));
  for (const char* key : {"accuracy_before", "accuracy_after", "file_bytes_before", "file_bytes_after",
                          "compression_ratio", "sparsity"})
    EXPECT_TRUE(report.contains(key)) << key;
  EXPECT_NEAR(report["sparsity"].get<double>(), 0.9, 1e-4);
  EXPECT_EQ(report["file_bytes_after"].get<int64_t>(), static_cast<int64_t>(fs::file_size(out)));
  EXPECT_LE(report["file_bytes_after"].get<double>(), 0.3 * report["file_bytes_before"].get<double>());
  EXPECT_GT(report["accuracy_after"].get<double>(), 0.65);

  const auto inspect = run_cli({"inspect", out, "--json"});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_NEAR(nlohmann::json::parse(inspect.out)["weight_sparsity"].get<double>(), 0.9, 1e-4);
}

TEST_F(CliTest, RecipeGivesTheSameModelAsTheFlags) {
  const std::string recipe = dir_->file("recipe.json");
  std::ofstream(recipe) << R"({"passes": [{"pass": "prune.magnitude", "sparsity": 0.8, "scope": "layer"}]})";
  const auto a = run_cli({"compress", model_, "--recipe", recipe, "--data", data_, "-o", dir_->file("a.shrk"), "-q"});
  const auto b = run_cli({"compress", model_, "--prune", "magnitude:0.8", "--scope", "layer", "--data", data_,
                          "-o", dir_->file("b.shrk"), "-q"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  // The stored recipe text differs only if the passes differ; the tensors must be identical.
  const auto ia = nlohmann::json::parse(run_cli({"inspect", dir_->file("a.shrk"), "--json"}).out);
  const auto ib = nlohmann::json::parse(run_cli({"inspect", dir_->file("b.shrk"), "--json"}).out);
  EXPECT_EQ(ia["layers"], ib["layers"]);
}

TEST_F(CliTest, SameSeedAndThreadsGiveIdenticalFiles) {
  const std::vector<std::string> args = {"train", "--arch", "lenet5", "--data", data_, "--epochs", "1",
                                         "--threads", "2", "--seed", "3", "-q"};
  auto with_output = [&](const std::string& name) {
    auto a = args;
    a.insert(a.end(), {"-o", dir_->file(name)});
    return a;
  };
  ASSERT_EQ(run_cli(with_output("r1.shrk")).exit_code, 0);
  ASSERT_EQ(run_cli(with_output("r2.shrk")).exit_code, 0);
  EXPECT_EQ(read_text(dir_->file("r1.shrk")), read_text(dir_->file("r2.shrk")));
}

TEST_F(CliTest, MissingModelFileIsAClearError) {
  expect_clear_error(run_cli({"eval", dir_->file("nope.shrk"), "--data", data_}), "nope.shrk");
}

TEST_F(CliTest, TruncatedModelFileIsAClearError) {
  const std::string bytes = read_text(model_);
  const std::string cut = dir_->file("cut.shrk");
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  expect_clear_error(run_cli({"eval", cut, "--data", data_}), "truncated");
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, 5);
  expect_clear_error(run_cli({"inspect", cut}), "cut.shrk");
}

TEST_F(CliTest, CorruptedModelFileIsAClearError) {
  std::string bytes = read_text(model_);
  for (size_t i = 8; i < 40; ++i) bytes[i] = '#';
  const std::string bad = dir_->file("bad.shrk");
  std::ofstream(bad, std::ios::binary) << bytes;
  expect_clear_error(run_cli({"inspect", bad}), "bad.shrk");
}

TEST_F(CliTest, WrongDatasetPathIsAClearError) {
  expect_clear_error(run_cli({"eval", model_, "--data", "fashion-mnist:/no/such/dir"}), "/no/such/dir");
  expect_clear_error(run_cli({"train", "--data", "imagenet", "-o", dir_->file("x.shrk")}), "imagenet");
}

TEST_F(CliTest, BadFlagValuesAreClearErrors) {
  expect_clear_error(run_cli({"train", "--epochs", "abc", "-o", dir_->file("x.shrk")}), "--epochs");
  expect_clear_error(run_cli({"train", "--lr", "-1", "-o", dir_->file("x.shrk")}), "--lr");
  expect_clear_error(run_cli({"compress", model_, "--prune", "magnitude:1.5", "--data", data_, "-o",
                              dir_->file("x.shrk")}),
                     "sparsity");
  expect_clear_error(run_cli({"compress", model_, "--prune", "random:0.5", "-o", dir_->file("x.shrk")}),
                     "random");
  expect_clear_error(run_cli({"train", "--arch", "alexnet", "--data", data_, "-o", dir_->file("x.shrk")}),
                     "alexnet");
  expect_clear_error(run_cli({"frobnicate"}), "frobnicate");
}

TEST_F(CliTest, ShapeMismatchIsAClearError) {
  const std::string csv = dir_->file("iris.csv");
  std::ofstream(csv) << "5.1,3.5,1.4,0.2,0\n4.9,3.0,1.4,0.2,0\n6.3,3.3,6.0,2.5,2\n5.8,2.7,5.1,1.9,2\n"
                        "7.0,3.2,4.7,1.4,1\n6.4,3.2,4.5,1.5,1\n";
  expect_clear_error(run_cli({"eval", model_, "--data", "csv:" + csv}), "shape");
}

TEST_F(CliTest, TheInputIsNeverOverwrittenAndFailuresLeaveNoFiles) {
  const std::string before = read_text(model_);
  expect_clear_error(run_cli({"compress", model_, "--prune", "magnitude:0.5", "--data", data_, "-o", model_}),
                     "input");
  EXPECT_EQ(read_text(model_), before);

  // A run that fails after loading (the dataset does not fit) leaves no output and no temp file.
  const auto files_before = std::distance(fs::directory_iterator(dir_->path()), fs::directory_iterator());
  const std::string csv = dir_->file("tiny.csv");
  std::ofstream(csv) << "1,2,0\n3,4,1\n";
  expect_clear_error(run_cli({"compress", model_, "--prune", "magnitude:0.5", "--data", "csv:" + csv, "-o",
                              dir_->file("never.shrk")}),
                     "shape");
  EXPECT_FALSE(fs::exists(dir_->file("never.shrk")));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_->path()), fs::directory_iterator()), files_before + 1);
}

TEST(CliHelp, EverySubcommandHasHelp) {
  for (const char* command : {"train", "eval", "inspect", "compress"}) {
    const auto r = run_cli({command, "--help"});
    EXPECT_EQ(r.exit_code, 0) << command;
    EXPECT_NE(r.out.find("--threads"), std::string::npos) << command;
    EXPECT_NE(r.out.find("--report"), std::string::npos) << command;
  }
}

}  // namespace
}  // namespace shrink::testing
