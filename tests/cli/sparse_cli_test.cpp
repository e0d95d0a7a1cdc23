// Sparse execution through the binary: a pruned LeNet-300-100's Linear layers and a pruned
// LeNet-5's convolutions and Linear layers run on the sparse kernels in `shrink eval` and
// `shrink run` (inspect says which), with the same results as the dense kernels that
// SHRINK_SPARSE=off brings back, on every instruction set SHRINK_ISA can pick; an unknown
// SHRINK_SPARSE value is a clear error. The variables are read once per
// process, hence a process per case.
#include "../../src/nn/kernels/isa.hpp"
#include "shrink/core/random.hpp"
#include "shrink/io/tensor_file.hpp"
#include "support/cli.hpp"
#include "support/fashion_mnist_suite.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>

namespace shrink::testing {
namespace {

namespace fs = std::filesystem;

class SparseCliTest : public FashionMnistSuite<SparseCliTest> {
 public:
  static constexpr int kTrain = 2000, kTest = 500;
  static void prepare() {
    model_ = dir_->file("dense.shrk");
    pruned_ = dir_->file("pruned.shrk");
    setup({"train", "--arch", "lenet-300-100", "--data", data_, "--epochs", "1", "--threads", "2",
           "-q", "-o", model_});
    setup({"compress", model_, "--prune", "magnitude:0.95", "--scope", "layer", "--data", data_,
           "-q", "-o", pruned_});
    // A narrow LeNet-5, every layer 90% zero: its convolutions run sparse too.
    const std::string cnn = dir_->file("cnn.shrk");
    cnn_pruned_ = dir_->file("cnn-pruned.shrk");
    setup({"train", "--arch", "lenet5", "--arch-options", R"({"channels": [6, 16], "hidden": [32]})",
           "--data", data_, "--epochs", "1", "--threads", "2", "-q", "-o", cnn});
    setup({"compress", cnn, "--prune", "magnitude:0.9", "--scope", "layer", "--data", data_, "-q",
           "-o", cnn_pruned_});
  }

 protected:
  // The shrink binary with environment variables set.
  static CliResult run_env(const std::vector<std::string>& env, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"env"};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.push_back(SHRINK_CLI_PATH);
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
  }

  static nlohmann::json eval(const std::string& model, const std::vector<std::string>& env,
                             const std::string& batch) {
    const std::string report = dir_->file("eval.json");
    const CliResult r = run_env(env, {"eval", model, "--data", data_, "--batch", batch,
                                      "--threads", "2", "-q", "--report", report});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? read_json(report) : nlohmann::json();
  }

  static inline std::string pruned_, cnn_pruned_;
};

TEST_F(SparseCliTest, InspectSaysWhichLayersRunSparse) {
  const CliResult r = run_cli({"inspect", pruned_, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json report = nlohmann::json::parse(r.out);
  ASSERT_EQ(report["kernels"].size(), 3u) << report["kernels"].dump();
  for (const auto& layer : report["kernels"]) {
    // Every layer is 95% zero: sparse at every batch size.
    EXPECT_EQ(layer["batch_1_2"], "sparse") << layer.dump();
    EXPECT_EQ(layer["batch_3_up"], "sparse") << layer.dump();
    EXPECT_NEAR(layer["weight_density"].get<double>(), 0.05, 0.01) << layer.dump();
  }
  const CliResult table = run_cli({"inspect", pruned_});
  EXPECT_NE(table.out.find("inference kernels (a Linear weight runs sparse at most 30% dense at batch 1-2, 20% above; a Conv2d weight at most 30%)"),
            std::string::npos) << table.out;
  // The dense original runs dense; SHRINK_SPARSE=off runs everything dense.
  const auto expect_dense = [](const CliResult& r) {
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json layers = nlohmann::json::parse(r.out)["kernels"];
    ASSERT_EQ(layers.size(), 3u);
    for (const auto& layer : layers) {
      EXPECT_EQ(layer["batch_1_2"], "dense") << layer.dump();
      EXPECT_EQ(layer["batch_3_up"], "dense") << layer.dump();
    }
  };
  expect_dense(run_cli({"inspect", model_, "--json"}));
  expect_dense(run_env({"SHRINK_SPARSE=off"}, {"inspect", pruned_, "--json"}));
}

TEST_F(SparseCliTest, InspectListsAPrunedCnnsConvolutionsAsSparse) {
  const CliResult r = run_cli({"inspect", cnn_pruned_, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json layers = nlohmann::json::parse(r.out)["kernels"];
  ASSERT_EQ(layers.size(), 4u) << layers.dump();
  EXPECT_EQ(layers[0]["type"], "Conv2d");
  EXPECT_EQ(layers[1]["type"], "Conv2d");
  for (const auto& layer : layers) {
    EXPECT_EQ(layer["batch_1_2"], "sparse") << layer.dump();
    EXPECT_EQ(layer["batch_3_up"], "sparse") << layer.dump();
  }
}

TEST_F(SparseCliTest, EvalGivesTheDenseResultsOnEveryInstructionSet) {
  for (const std::string& model : {pruned_, cnn_pruned_}) {
    for (const std::string batch : {"1", "256"}) {
      const nlohmann::json dense = eval(model, {"SHRINK_SPARSE=off"}, batch);
      ASSERT_FALSE(dense.is_null());
      for (kernels::Isa isa : kernels::runnable_isas()) {
        const nlohmann::json sparse =
            eval(model, {"SHRINK_ISA=" + std::string(kernels::isa_name(isa))}, batch);
        ASSERT_FALSE(sparse.is_null());
        const std::string where = model + " on " + kernels::isa_name(isa) + ", batch " + batch;
        EXPECT_EQ(sparse["accuracy"], dense["accuracy"]) << where;
        EXPECT_NEAR(sparse["loss"].get<double>(), dense["loss"].get<double>(), 1e-5) << where;
      }
    }
  }
}

TEST_F(SparseCliTest, RunGivesTheDenseOutput) {
  Tensor x({5, 1, 28, 28});
  Rng rng(2);
  for (float& v : x) v = rng.uniform();
  const std::string input = dir_->file("x.npy");
  write_npy(x, input);
  for (const std::string& model : {pruned_, cnn_pruned_}) {
    Tensor outputs[2];
    for (int off = 0; off < 2; ++off) {
      TempDir out;
      const CliResult r = run_env({std::string("SHRINK_SPARSE=") + (off ? "off" : "auto")},
                                  {"run", model, "--input", "input=" + input, "--output-dir",
                                   out.path().string()});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      outputs[off] = read_npy(fs::directory_iterator(out.path())->path().string());
    }
    ASSERT_EQ(outputs[0].shape(), outputs[1].shape()) << model;
    for (int64_t i = 0; i < outputs[0].numel(); ++i)
      EXPECT_NEAR(outputs[0][i], outputs[1][i], 1e-4f * (1.0f + std::abs(outputs[1][i])))
          << model << " " << i;
  }
}

TEST_F(SparseCliTest, AnUnknownModeIsAClearError) {
  const std::string want = "SHRINK_SPARSE=fast is not a sparse execution mode: auto (the default) or off";
  expect_clear_error(run_env({"SHRINK_SPARSE=fast"}, {"inspect", pruned_}), want);
  expect_clear_error(run_env({"SHRINK_SPARSE=fast"}, {"eval", pruned_, "--data", data_, "-q"}), want);
}

}  // namespace
}  // namespace shrink::testing
