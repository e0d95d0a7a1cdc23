// shrink distill and compress --recover end to end on a small Fashion-MNIST subset: reports,
// born-again generations, files that load, the same bytes for the same seed, clear errors.
#include "support/cli.hpp"
#include "support/fashion_mnist_suite.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

namespace shrink::testing {
namespace {

namespace fs = std::filesystem;

class DistillCliTest : public FashionMnistSuite<DistillCliTest> {
 public:
  static constexpr int kTrain = 1200, kTest = 300;
  static void prepare() {
    teacher_ = dir_->file("teacher.shrk");
    setup({"train", "--arch", "lenet5", "--data", data_, "--epochs", "2", "--threads", "2", "-q", "-o", teacher_});
  }

 protected:
  // shrink distill from the LeNet-5 teacher into a small MLP, with `extra` flags.
  static CliResult distill(const std::string& output, std::vector<std::string> extra) {
    std::vector<std::string> args = {"distill", "--teacher", teacher_, "--student", "mlp", "--hidden", "16",
                                     "--data", data_, "--epochs", "1", "--threads", "2", "-q", "-o",
                                     dir_->file(output)};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_cli(args);
  }

  static inline std::string teacher_;
};

TEST_F(DistillCliTest, ReportsTeacherStudentBaselineAndLossCurves) {
  const auto r = distill("kd.shrk", {"--loss", "kd:T=4,alpha=0.9", "--loss", "rkd:angle=0", "--baseline",
                                     "--report", dir_->file("kd.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = read_json(dir_->file("kd.json"));
  ASSERT_EQ(report["teachers"].size(), 1u);
  EXPECT_GT(report["teachers"][0]["accuracy"].get<double>(), 0.5);
  EXPECT_EQ(report["student"]["parameters"].get<int64_t>(), 784 * 16 + 16 + 16 * 10 + 10);
  EXPECT_GT(report["baseline"]["accuracy"].get<double>(), 0.15);  // trained: above chance (0.1)
  ASSERT_EQ(report["generations"].size(), 1u);
  EXPECT_EQ(report["accuracy"], report["generations"][0]["accuracy"]);
  EXPECT_NEAR(report["accuracy_over_baseline"].get<double>(),
              report["accuracy"].get<double>() - report["baseline"]["accuracy"].get<double>(), 1e-12);
  for (const char* term : {"kd", "rkd", "cross_entropy"})
    EXPECT_EQ(report["loss_curves"][term].size(), 1u) << term;
  EXPECT_EQ(report["losses"][0]["term"], "kd");
  EXPECT_NE(r.out.find("student alone"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("distillation gain"), std::string::npos) << r.out;

  // The student is an ordinary model file: eval gives the accuracy the report quotes.
  const auto eval = run_cli({"eval", dir_->file("kd.shrk"), "--data", data_, "-q", "--report", dir_->file("eval.json")});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_DOUBLE_EQ(read_json(dir_->file("eval.json"))["accuracy"].get<double>(), report["accuracy"].get<double>());
}

TEST_F(DistillCliTest, BornAgainWithoutATeacherStartsFromTheStudentAlone) {
  const auto r = run_cli({"distill", "--student", "mlp", "--hidden", "16", "--data", data_, "--epochs", "1",
                          "--generations", "2", "--threads", "2", "-q", "-o", dir_->file("ban.shrk"),
                          "--report", dir_->file("ban.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = read_json(dir_->file("ban.json"));
  EXPECT_TRUE(report["teachers"].empty());
  EXPECT_TRUE(report.contains("baseline"));  // generation 0
  ASSERT_EQ(report["generations"].size(), 2u);
  EXPECT_EQ(report["generations"][0]["teachers"], nlohmann::json::array({"generation 0"}));
  EXPECT_EQ(report["generations"][1]["teachers"], nlohmann::json::array({"generation 1"}));
}

TEST_F(DistillCliTest, FeatureLossesAndTwoTeachersRunFromTheCommandLine) {
  // A conv student taught by two teachers (the second an ONNX file), with hint and attention
  // losses on named layers.
  const std::string onnx = dir_->file("teacher.onnx");
  ASSERT_EQ(run_cli({"convert", teacher_, onnx, "-q"}).exit_code, 0);
  const auto r = run_cli({"distill", "--teacher", teacher_, "--teacher", onnx, "--teacher-weights", "0.5,0.5",
                          "--student", "lenet5", "--data", data_, "--epochs", "1", "--threads", "2", "-q",
                          "--loss", "kd", "--loss", "hint:student=conv2,teacher=conv2,weight=1",
                          "--loss", "attention:student=conv1,teacher=conv1", "-o", dir_->file("two.shrk"),
                          "--report", dir_->file("two.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = read_json(dir_->file("two.json"));
  ASSERT_EQ(report["teachers"].size(), 2u);
  EXPECT_DOUBLE_EQ(report["teachers"][1]["weight"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(report["teachers"][0]["accuracy"].get<double>(), report["teachers"][1]["accuracy"].get<double>());
  for (const char* term : {"kd", "hint", "attention"}) EXPECT_TRUE(report["loss_curves"].contains(term)) << term;
}

TEST_F(DistillCliTest, SameSeedGivesTheSameStudentBytes) {
  ASSERT_EQ(distill("s1.shrk", {"--seed", "4"}).exit_code, 0);
  ASSERT_EQ(distill("s2.shrk", {"--seed", "4"}).exit_code, 0);
  EXPECT_EQ(read_text(dir_->file("s1.shrk")), read_text(dir_->file("s2.shrk")));
}

TEST_F(DistillCliTest, CompressRecoversByDistillationFromTheUncompressedModel) {
  const auto r = run_cli({"compress", teacher_, "--prune", "magnitude:0.9", "--recover", "kd:T=2",
                          "--data", data_, "--threads", "2", "-q", "-o", dir_->file("recovered.shrk"),
                          "--report", dir_->file("recover.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = read_json(dir_->file("recover.json"));
  const auto& pass = report["passes"][1];
  EXPECT_EQ(pass["pass"], "distill.recover");
  EXPECT_EQ(pass["options"]["epochs"], 1);
  EXPECT_EQ(pass["teachers"], nlohmann::json::array({"the model before compression"}));
  EXPECT_EQ(pass["options"]["terms"][0]["T"], 2);
  EXPECT_NEAR(report["sparsity"].get<double>(), 0.9, 1e-4);
}

TEST_F(DistillCliTest, MisuseIsAClearError) {
  expect_clear_error(distill("x.shrk", {"--loss", "hint:student=fc9,teacher=conv2"}), "its nodes: flatten, fc1");
  expect_clear_error(distill("x.shrk", {"--loss", "attention:student=fc1,teacher=conv1"}), "spatial attention");
  expect_clear_error(distill("x.shrk", {"--loss", "kd:4"}), "KEY=VALUE");
  expect_clear_error(distill("x.shrk", {"--loss", "dark:T=4"}), "unknown training term 'dark'");
  expect_clear_error(distill("x.shrk", {"--loss", "bn_l1"}), "no distillation loss");
  expect_clear_error(distill("x.shrk", {"--teacher-weights", "1,2"}), "2 teacher weights for 1 teachers");
  expect_clear_error(distill("x.shrk", {"--teacher", dir_->file("missing.shrk")}), "missing.shrk");
  expect_clear_error(run_cli({"distill", "--teacher", teacher_, "--student", teacher_, "--hidden", "8", "--data",
                              data_, "-o", dir_->file("x.shrk")}),
                     "model file");
  expect_clear_error(run_cli({"distill", "--teacher", teacher_, "--student", "mlp", "--data", data_, "-o", teacher_}),
                     "never overwritten");
  expect_clear_error(run_cli({"compress", teacher_, "--recover", "kd:alpha=2", "--prune", "magnitude:0.5",
                              "--data", data_, "-o", dir_->file("x.shrk")}),
                     "alpha");
  EXPECT_FALSE(fs::exists(dir_->file("x.shrk")));
}

}  // namespace
}  // namespace shrink::testing
