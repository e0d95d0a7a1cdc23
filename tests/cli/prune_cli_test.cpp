// End-to-end runs of the pruning features of the shrink binary on a small Fashion-MNIST subset:
// the shared pruning options, the saliency criteria, pruning at initialisation, sparse
// training, schedules and sensitivity analysis.
#include "support/cli.hpp"
#include "support/fashion_mnist_suite.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

namespace shrink::testing {
namespace {

class PruneCliTest : public FashionMnistSuite<PruneCliTest> {
 public:
  static constexpr int kTrain = 2000, kTest = 500;
  static void prepare() {
    model_ = dir_->file("mlp.shrk");
    setup({"train", "--arch", "lenet-300-100", "--data", data_, "--epochs", "2", "--threads", "2", "-q", "-o",
           model_});
  }

 protected:
  // Runs `shrink compress` with `args` and returns its report.
  static nlohmann::json compress(std::vector<std::string> args, const std::string& output) {
    const std::string report = dir_->file(output + ".json");
    args.insert(args.begin(), {"compress", model_});
    args.insert(args.end(), {"--data", data_, "-o", dir_->file(output), "-q", "--report", report});
    const CliResult r = run_cli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? read_json(report) : nlohmann::json();
  }
};

// Recipes defaulted to scope "layer" and the command line to "global": one default now.
TEST_F(PruneCliTest, RecipesAndFlagsShareTheDefaultScope) {
  const std::string recipe = dir_->file("default-scope.json");
  std::ofstream(recipe) << R"({"passes": [{"pass": "prune.magnitude", "sparsity": 0.8}]})";
  const auto a = compress({"--recipe", recipe}, "a.shrk");
  const auto b = compress({"--prune", "magnitude:0.8"}, "b.shrk");
  ASSERT_FALSE(a.is_null() || b.is_null());
  EXPECT_EQ(a["passes"][0]["options"]["scope"], "global");
  EXPECT_EQ(b["passes"][0]["options"]["scope"], "global");
  EXPECT_EQ(a["passes"][0]["layer_sparsity"], b["passes"][0]["layer_sparsity"]);
}

TEST_F(PruneCliTest, ExcludeKeepsALayerDense) {
  const auto report = compress({"--prune", "magnitude:0.9", "--exclude", "fc3"}, "excluded.shrk");
  ASSERT_FALSE(report.is_null());
  const auto& layers = report["passes"][0]["layer_sparsity"];
  EXPECT_FALSE(layers.contains("fc3.weight")) << layers.dump();
  EXPECT_GT(layers["fc1.weight"].get<double>(), 0.85);
  expect_clear_error(run_cli({"compress", model_, "--prune", "magnitude:0.9", "--exclude", "fc9",
                              "--data", data_, "-o", dir_->file("x.shrk"), "-q"}),
                     "cannot exclude 'fc9'");
}

// Every criterion runs from --prune with its own options, and reports per-layer sparsity.
TEST_F(PruneCliTest, EachSaliencyCriterionRunsFromTheCommandLine) {
  for (const std::string method : {"snip", "obd", "fisher", "taylor", "obs"}) {
    const auto report =
        compress({"--prune", method + ":0.8,samples=256", "--threads", "2"}, method + ".shrk");
    ASSERT_FALSE(report.is_null()) << method;
    const auto& pass = report["passes"][0];
    EXPECT_EQ(pass["pass"], "prune." + method);
    EXPECT_EQ(pass["options"]["samples"], 256);
    EXPECT_NEAR(report["sparsity"].get<double>(), 0.8, 0.01) << method;
    EXPECT_TRUE(pass["layer_sparsity"].contains("fc1.weight")) << method;
    // Well above chance (10%) without fine-tuning.
    EXPECT_GT(report["accuracy_after"].get<double>(), 0.3) << method;
  }
  const std::vector<std::string> tail = {"--data", data_, "-o", dir_->file("x.shrk"), "-q"};
  auto bad = [&](const std::string& spec) {
    std::vector<std::string> args = {"compress", model_, "--prune", spec};
    args.insert(args.end(), tail.begin(), tail.end());
    return run_cli(args);
  };
  expect_clear_error(bad("hessian:0.9"), "unknown method 'hessian' (known: magnitude, snip, obd");
  expect_clear_error(bad("obs:0.9,damping=-1"), "damping must be a positive number");
  expect_clear_error(bad("fisher:0.9,samples=0"), "samples must be positive");
}

TEST_F(PruneCliTest, PruneAtInitTrainsASparseNetwork) {
  const std::string output = dir_->file("snip-init.shrk"), report_path = output + ".json";
  const CliResult r = run_cli({"train", "--arch", "lenet-300-100", "--data", data_, "--epochs", "2",
                               "--prune-at-init", "snip:0.9,samples=512,rescale=true,reclaim=true",
                               "--threads", "2",
                               "-q", "-o", output, "--report", report_path});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("pruned at initialisation by prune.snip to 90.0% weight sparsity"),
            std::string::npos) << r.out;
  const auto report = read_json(report_path);
  EXPECT_EQ(report["at_init"][0]["pass"], "prune.snip");
  EXPECT_EQ(report["at_init"][0]["options"]["rescale"], true);
  // The hidden units left without input or output, per layer, and the weights reclaimed from
  // them for live units.
  EXPECT_TRUE(report["at_init"][0]["dead_units"].contains("fc1")) << report["at_init"][0];
  EXPECT_TRUE(report["at_init"][0]["dead_units"].contains("fc2")) << report["at_init"][0];
  EXPECT_GE(report["at_init"][0]["reclaimed_weights"].get<int64_t>(), 0);
  // Training keeps the pruned weights at zero: the saved network is as sparse as at the start.
  EXPECT_NEAR(report["sparsity"].get<double>(), 0.9, 0.001);
  // It learns (chance is 10%; 62 steps leave a 90%-sparse network far from converged).
  EXPECT_GT(report["accuracy"].get<double>(), 0.25);
  expect_clear_error(run_cli({"train", "--arch", "lenet-300-100", "--data", data_, "--epochs", "1",
                              "--prune-at-init", "lottery:0.9", "-q", "-o", dir_->file("y.shrk")}),
                     "--prune-at-init lottery:0.9: unknown method 'lottery'");
  expect_clear_error(run_cli({"train", "--arch", "lenet-300-100", "--data", data_, "--epochs", "1",
                              "--prune-at-init", "snip:0.9,schedule=cubic", "-q", "-o",
                              dir_->file("y.shrk")}),
                     "schedule must be 'linear' or 'geometric', got 'cubic'");
}

TEST_F(PruneCliTest, AgpPrunesGraduallyWhileTraining) {
  const std::string output = dir_->file("agp.shrk"), report_path = output + ".json";
  const CliResult r = run_cli({"train", "--arch", "lenet-300-100", "--data", data_, "--epochs", "2",
                               "--prune", "agp:0.9,end=1,frequency=8,scope=layer", "--threads", "2",
                               "-q", "-o", output, "--report", report_path});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("pruned gradually while training to 90.0% weight sparsity"),
            std::string::npos) << r.out;
  const auto report = read_json(report_path);
  EXPECT_EQ(report["terms"][0]["term"], "agp");
  EXPECT_EQ(report["terms"][0]["scope"], "layer");
  EXPECT_NEAR(report["sparsity"].get<double>(), 0.9, 0.001);
  // 32 steps an epoch: epoch 1's last pruning is at step 24, (1 - 24/32)^3 of the way from 0.9
  // to 0; step 32, the ramp's end, opens epoch 2 at 0.9.
  EXPECT_DOUBLE_EQ(report["epochs"][0]["agp"]["target_sparsity"].get<double>(), 0.9 * 63 / 64);
  EXPECT_DOUBLE_EQ(report["epochs"][1]["agp"]["target_sparsity"].get<double>(), 0.9);
  EXPECT_GT(report["accuracy"].get<double>(), 0.25);  // it learns (chance is 10%)

  // While fine-tuning, from shrink compress.
  const auto compressed = compress({"--prune", "agp:0.8", "--finetune-epochs", "1", "--no-latency"},
                                   "agp-finetuned.shrk");
  EXPECT_NEAR(compressed["sparsity"].get<double>(), 0.8, 0.001);
  // And from a recipe: examples/recipes/agp.json ramps to 90% over 3 of 4 fine-tuning epochs.
  const auto recipe = compress({"--recipe", std::string(SHRINK_SOURCE_DIR) + "/examples/recipes/agp.json",
                                "--no-latency"},
                               "agp-recipe.shrk");
  EXPECT_NEAR(recipe["sparsity"].get<double>(), 0.9, 0.001);

  const std::vector<std::string> train = {"train", "--arch", "lenet-300-100", "--data", data_,
                                          "--epochs", "2", "-q", "-o", dir_->file("bad.shrk")};
  const auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = train;
    args.insert(args.end(), extra.begin(), extra.end());
    return run_cli(args);
  };
  expect_clear_error(with({"--prune", "magnitude:0.9"}), "use --prune-at-init magnitude:0.9");
  expect_clear_error(with({"--prune", "agp:1.5"}), "term agp: sparsity must be in [0, 1), got 1.5");
  expect_clear_error(with({"--prune", "agp"}), "give the sparsity as a number");
  expect_clear_error(with({"--prune", "agp:0.9,end=3"}), "end = 3 lies past the run's 2 epochs");
  expect_clear_error(with({"--prune", "agp:0.9,every=5"}), "unknown option 'every'");
  expect_clear_error(run_cli({"compress", model_, "--prune", "agp:0.9", "--data", data_, "-q", "-o",
                              dir_->file("bad2.shrk")}),
                     "--prune agp:S prunes gradually while fine-tuning; add --finetune-epochs N");
}

TEST_F(PruneCliTest, SparseTrainingKeepsTheNetworkSparseFromTheFirstStep) {
  for (const std::string method : {"set", "rigl"}) {
    const std::string output = dir_->file(method + ".shrk"), report_path = output + ".json";
    const CliResult r = run_cli({"train", "--arch", "lenet-300-100", "--data", data_, "--epochs", "2",
                                 "--sparse-training", method + ":0.9,frequency=8", "--threads", "2",
                                 "-q", "-o", output, "--report", report_path});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("trained sparse from scratch by " + method + " at 90."), std::string::npos)
        << r.out;
    const auto report = read_json(report_path);
    EXPECT_EQ(report["terms"][0]["term"], method);
    EXPECT_EQ(report["terms"][0]["distribution"], "erk");
    EXPECT_NEAR(report["sparsity"].get<double>(), 0.9, 0.005);
    // 32 steps an epoch, updates every 8 steps before 3/4 of 64: steps 8, 16 and 24 in epoch 1.
    EXPECT_EQ(report["epochs"][0][method]["updates"], 3);
    EXPECT_GT(report["epochs"][0][method]["regrown"].get<int64_t>(), 0);
    EXPECT_GT(report["accuracy"].get<double>(), 0.25);  // it learns (chance is 10%)
  }
  const std::vector<std::string> train = {"train", "--arch", "lenet-300-100", "--data", data_,
                                          "--epochs", "1", "-q", "-o", dir_->file("bad.shrk")};
  const auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = train;
    args.insert(args.end(), extra.begin(), extra.end());
    return run_cli(args);
  };
  expect_clear_error(with({"--sparse-training", "lottery:0.9"}),
                     "--sparse-training lottery:0.9: unknown method 'lottery' (known: set, rigl)");
  expect_clear_error(with({"--sparse-training", "rigl"}), "give the sparsity as a number");
  expect_clear_error(with({"--sparse-training", "rigl:0.9,distribution=normal"}),
                     "term rigl: distribution must be 'erk', 'er' or 'uniform'");
  expect_clear_error(with({"--sparse-training", "set:0.9,alpha=2"}),
                     "term set: alpha (the first update's fraction) must be in (0, 1]");
  expect_clear_error(with({"--sparse-training", "set:0.9", "--prune-at-init", "snip:0.9"}),
                     "give it without --prune and --prune-at-init");
}

TEST_F(PruneCliTest, SensitivityPrunesEachLayerAlone) {
  const std::string svg = dir_->file("sensitivity.svg"), report_path = dir_->file("sensitivity.json");
  const CliResult r = run_cli({"sensitivity", model_, "--data", data_, "--sparsities", "0.5,0.95",
                               "--samples", "200", "--svg", svg, "--threads", "2", "--report",
                               report_path});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");  // the per-run pass logs stay quiet
  EXPECT_NE(r.out.find("on 200 test samples; each layer pruned alone by prune.magnitude"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find("fc1.weight"), std::string::npos) << r.out;
  const auto report = read_json(report_path);
  ASSERT_EQ(report["layers"].size(), 3u);
  EXPECT_EQ(report["layers"][0]["weight"], "fc1.weight");
  EXPECT_EQ(report["layers"][0]["size"], 784 * 300);
  EXPECT_EQ(report["samples"], 200);
  EXPECT_EQ(report["sparsities"], nlohmann::json({0.5, 0.95}));
  for (const auto& layer : report["layers"]) EXPECT_EQ(layer["accuracy"].size(), 2u);
  const std::string plot = read_text(svg);
  EXPECT_NE(plot.find("<svg"), std::string::npos);
  EXPECT_NE(plot.find("fc3.weight"), std::string::npos);

  const auto bad = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"sensitivity", model_, "--data", data_, "--samples", "50"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_cli(args);
  };
  expect_clear_error(bad({"--sparsities", "0.5,1.5"}), "must be a number in [0, 1)");
  expect_clear_error(bad({"--prune", "magnitude:0.9"}), "give the criterion without a sparsity");
  expect_clear_error(bad({"--prune", "lottery"}), "prune.lottery");
  expect_clear_error(bad({"--svg", dir_->file("plot.png")}), ".svg");
}

}  // namespace
}  // namespace shrink::testing
