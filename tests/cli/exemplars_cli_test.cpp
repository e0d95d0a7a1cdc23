// End-to-end: compression-identified exemplars. With one compressed model they are exactly the
// samples eval --compare finds changed; with several, the modal prediction decides (two votes
// against one); a model against itself has none; and bad flags are clear errors.
#include "support/cli.hpp"
#include "support/fashion_mnist_suite.hpp"
#include "support/temp_dir.hpp"
#include "support/xml.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

namespace shrink::testing {
namespace {

class ExemplarsCliTest : public FashionMnistSuite<ExemplarsCliTest> {
 public:
  static constexpr int kTrain = 1000, kTest = 300;
  static void prepare() {
    setup({"train", "--arch", "lenet-300-100", "--data", data_, "--epochs", "1", "--batch", "32", "--threads", "1",
           "-q", "-o", dir_->file("dense.shrk")});
    // Two compressed models that differ: the same pruning, fine-tuned with different seeds.
    for (const char* seed : {"1", "2"})
      setup({"compress", dir_->file("dense.shrk"), "--prune", "magnitude:0.9", "--finetune-epochs", "1", "--seed",
             seed, "--data", data_, "--threads", "1", "-q", "-o", dir_->file(std::string("pruned") + seed + ".shrk")});
  }

 protected:
  // The exemplars' indices for these compressed models against the dense one.
  static nlohmann::json exemplars(const std::vector<std::string>& compressed, const std::string& name) {
    std::vector<std::string> args = {"exemplars", "--dense", dir_->file("dense.shrk"), "--compressed"};
    for (const auto& c : compressed) args.push_back(dir_->file(c));
    args.insert(args.end(), {"--data", data_, "--threads", "1", "-q", "--report", dir_->file(name)});
    const auto r = run_cli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return read_json(dir_->file(name));
  }
  // The samples whose prediction eval --compare finds changed.
  static nlohmann::json changed(const std::string& compressed) {
    const auto r = run_cli({"eval", dir_->file(compressed), "--compare", dir_->file("dense.shrk"), "--data", data_,
                            "--threads", "1", "-q", "--report", dir_->file("eval.json")});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return read_json(dir_->file("eval.json"))["class_impact"]["changed_indices"];
  }
};

TEST_F(ExemplarsCliTest, OneCompressedModelGivesTheChangedSamples) {
  const nlohmann::json report = exemplars({"pruned1.shrk"}, "one.json");
  const nlohmann::json indices = changed("pruned1.shrk");
  ASSERT_GT(indices.size(), 0u) << "pruning 90% changed no prediction";
  EXPECT_EQ(report["indices"], indices);
  EXPECT_EQ(report["exemplars"], indices.size());
  EXPECT_EQ(report["samples"], 300);
  int64_t per_class = 0;
  for (const auto& n : report["per_class"]) per_class += n.get<int64_t>();
  EXPECT_EQ(per_class, report["exemplars"].get<int64_t>());
  // The modal predictions on them differ by definition; the listed ones say both.
  for (const auto& s : report["listed"]) EXPECT_NE(s["dense"], s["compressed"]);
}

TEST_F(ExemplarsCliTest, TheModalPredictionDecides) {
  const nlohmann::json one = changed("pruned1.shrk"), two = changed("pruned2.shrk");
  ASSERT_NE(one, two) << "the two seeds gave the same predictions: the test would prove nothing";
  EXPECT_EQ(exemplars({"pruned1.shrk", "pruned1.shrk", "pruned2.shrk"}, "a.json")["indices"], one);
  EXPECT_EQ(exemplars({"pruned2.shrk", "pruned1.shrk", "pruned2.shrk"}, "b.json")["indices"], two);
}

TEST_F(ExemplarsCliTest, AModelAgainstItselfHasNone) {
  const std::string svg = dir_->file("none.svg");
  const auto r = run_cli({"exemplars", "--dense", dir_->file("dense.shrk"), "--compressed", dir_->file("dense.shrk"),
                          "--data", data_, "--svg", svg});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("0 compression-identified exemplars of 300 samples"), std::string::npos) << r.out;
  parse_xml(read_text(svg));  // an empty grid, still well-formed
}

TEST_F(ExemplarsCliTest, DrawsTheGrid) {
  const std::string svg = dir_->file("grid.svg");
  const auto r = run_cli({"exemplars", "--dense", dir_->file("dense.shrk"), "--compressed", dir_->file("pruned1.shrk"),
                          "--data", data_, "--svg", svg, "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const XmlElement root = parse_xml(read_text(svg));
  EXPECT_FALSE(find_all(root, "image").empty());
  EXPECT_NE(all_text(root).find("compressed: "), std::string::npos);
}

TEST_F(ExemplarsCliTest, BadInputIsAClearError) {
  const std::string dense = dir_->file("dense.shrk");
  expect_clear_error(run_cli({"exemplars", "--dense", dense, "--compressed", dir_->file("nope.shrk"), "--data", data_}),
                     "nope.shrk");
  expect_clear_error(run_cli({"exemplars", "--dense", dense, "--compressed", dense, "--data", data_, "--svg",
                              dir_->file("grid.png")}),
                     ".svg");
  expect_clear_error(run_cli({"exemplars", "--dense", dense, "--data", data_}), "--compressed");
}

}  // namespace
}  // namespace shrink::testing
