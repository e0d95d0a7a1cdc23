// End-to-end: the energy section in train, compress and eval reports (modelled per inference,
// measured or estimated for the job, the break-even of a compression), per-class impact of a
// compression with the grid of changed samples, and the clear errors of the new flags.
#include "support/cli.hpp"
#include "support/fashion_mnist_suite.hpp"
#include "support/temp_dir.hpp"
#include "support/xml.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

namespace shrink::testing {
namespace {

namespace fs = std::filesystem;

// Every job's energy: a positive modelled figure per inference and the job's own, saying how.
void expect_energy_section(const nlohmann::json& energy) {
  EXPECT_TRUE(energy["per_inference"]["modelled"].get<bool>());
  EXPECT_GT(energy["per_inference"]["joules"].get<double>(), 0.0);
  const nlohmann::json& job = energy["job"];
  EXPECT_GT(job["joules"].get<double>(), 0.0);
  const std::string method = job["method"];
  EXPECT_EQ(method.rfind(job["measured"].get<bool>() ? "measured: RAPL" : "estimated: ", 0), 0u) << method;
  EXPECT_NEAR(job["co2_grams"].get<double>(), job["joules"].get<double>() / 3.6e6 * 475.0, 1e-12);
}

class ReportCliTest : public FashionMnistSuite<ReportCliTest> {
 public:
  static constexpr int kTrain = 2000, kTest = 500;
  static void prepare() {
    dense_ = dir_->file("dense.shrk");
    pruned_ = dir_->file("pruned.shrk");
    train_ = setup({"train", "--arch", "lenet-300-100", "--data", data_, "--epochs", "1", "--batch", "32", "--lr",
                    "0.01", "--threads", "2", "-q", "-o", dense_, "--report", dir_->file("train.json")});
    compress_ = setup({"compress", dense_, "--prune", "magnitude:0.9", "--data", data_, "--threads", "2",
                       "--changed-samples", dir_->file("changed.svg"), "-o", pruned_, "--report",
                       dir_->file("compress.json")});
  }

 protected:
  static inline std::string dense_, pruned_;
  static inline CliResult train_, compress_;
};

TEST_F(ReportCliTest, TrainReportCarriesTheEnergySection) {
  const nlohmann::json report = read_json(dir_->file("train.json"));
  expect_energy_section(report["energy"]);
  // Dense LeNet-300-100 runs 266,200 MACs an inference.
  EXPECT_EQ(report["energy"]["per_inference"]["macs"], 266200);
  EXPECT_NE(train_.out.find("energy: "), std::string::npos) << train_.out;
}

TEST_F(ReportCliTest, CompressReportsLowerModelledEnergyAndTheBreakEven) {
  const nlohmann::json report = read_json(dir_->file("compress.json"));
  const nlohmann::json& energy = report["energy"];
  const double before = energy["per_inference_before"]["joules"].get<double>();
  const double after = energy["per_inference_after"]["joules"].get<double>();
  EXPECT_LT(after, 0.5 * before);  // 90% of the weights pruned: fewer MACs, a sparse file
  EXPECT_EQ(energy["per_inference_after"]["macs"], report["macs_after"]);
  EXPECT_NEAR(energy["saving_per_inference_joules"].get<double>(), before - after, 1e-18);
  const double cost = energy["compression"]["joules"].get<double>();
  EXPECT_GT(cost, 0.0);
  EXPECT_NEAR(energy["break_even_inferences"].get<double>(), cost / (before - after), 1e-6 * cost / (before - after));
  EXPECT_NE(energy["break_even"].get<std::string>().find("against a modelled saving"), std::string::npos);
  EXPECT_LE(cost, energy["job"]["joules"].get<double>());
  EXPECT_NE(compress_.out.find("break-even: after "), std::string::npos) << compress_.out;
}

TEST_F(ReportCliTest, CompressReportsPerClassImpactAndDrawsTheChangedSamples) {
  const nlohmann::json report = read_json(dir_->file("compress.json"));
  const nlohmann::json& impact = report["class_impact"];
  ASSERT_EQ(impact["classes"].size(), 10u);
  EXPECT_EQ(impact["samples"], 500);
  const auto count = impact["count"].get<std::vector<int64_t>>();
  EXPECT_EQ(std::accumulate(count.begin(), count.end(), int64_t{0}), 500);
  // The per-class accuracies, weighted by the class sizes, are the overall ones.
  double before = 0, after = 0;
  for (size_t c = 0; c < count.size(); ++c) {
    before += impact["accuracy_before"][c].get<double>() * static_cast<double>(count[c]);
    after += impact["accuracy_after"][c].get<double>() * static_cast<double>(count[c]);
  }
  EXPECT_NEAR(before / 500, report["accuracy_before"].get<double>(), 1e-12);
  EXPECT_NEAR(after / 500, report["accuracy_after"].get<double>(), 1e-12);
  // Every changed sample is counted once, per class and in the index list.
  const auto per_class = impact["changed_per_class"].get<std::vector<int64_t>>();
  const int64_t changed = impact["changed_samples"];
  EXPECT_GT(changed, 0);  // 90% pruning without fine-tuning moves some predictions
  EXPECT_EQ(std::accumulate(per_class.begin(), per_class.end(), int64_t{0}), changed);
  EXPECT_EQ(static_cast<int64_t>(impact["changed_indices"].size()), changed);
  const int64_t wrong = impact["became_wrong_samples"], right = impact["became_right_samples"];
  // Accuracy moves by exactly the samples that became right minus those that became wrong.
  EXPECT_NEAR(report["accuracy_change"].get<double>(), static_cast<double>(right - wrong) / 500, 1e-12);
  ASSERT_EQ(impact["hurt_most"].size(), 3u);
  EXPECT_LE(impact["hurt_most"][0]["change"].get<double>(), impact["hurt_most"][1]["change"].get<double>());

  const XmlElement svg = parse_xml(read_text(dir_->file("changed.svg")));
  EXPECT_EQ(find_all(svg, "image").size(), std::min<size_t>(48, static_cast<size_t>(changed)));
  EXPECT_EQ(impact["changed_samples_svg"], dir_->file("changed.svg"));
  EXPECT_NE(compress_.out.find("hurt most:"), std::string::npos) << compress_.out;
}

TEST_F(ReportCliTest, EvalCompareGivesTheSameImpactAsCompress) {
  const auto r = run_cli({"eval", pruned_, "--compare", dense_, "--data", data_, "--threads", "2", "-q",
                          "--report", dir_->file("eval.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json report = read_json(dir_->file("eval.json"));
  const nlohmann::json compressed = read_json(dir_->file("compress.json"));
  EXPECT_EQ(report["class_impact"]["changed_indices"], compressed["class_impact"]["changed_indices"]);
  EXPECT_EQ(report["class_impact"]["accuracy_before"], compressed["class_impact"]["accuracy_before"]);
  EXPECT_DOUBLE_EQ(report["compare"]["accuracy"].get<double>(), compressed["accuracy_before"].get<double>());
  expect_energy_section(report["energy"]);
  EXPECT_DOUBLE_EQ(report["energy"]["per_inference"]["joules"].get<double>(),
                   compressed["energy"]["per_inference_after"]["joules"].get<double>());
  EXPECT_DOUBLE_EQ(report["energy"]["per_inference_compare"]["joules"].get<double>(),
                   compressed["energy"]["per_inference_before"]["joules"].get<double>());
  EXPECT_NE(r.out.find("against " + dense_), std::string::npos) << r.out;
}

TEST_F(ReportCliTest, EnergySettingsComeFromTheEnvironment) {
  const auto r = run_command({"env", "SHRINK_POWERCAP_DIR=", "SHRINK_CPU_WATTS=170", "SHRINK_CARBON_INTENSITY=50",
                              SHRINK_CLI_PATH, "eval", dense_, "--data", data_, "-q", "--report",
                              dir_->file("env.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json job = read_json(dir_->file("env.json"))["energy"]["job"];
  EXPECT_FALSE(job["measured"].get<bool>());
  EXPECT_NE(job["method"].get<std::string>().find("x 170 W"), std::string::npos) << job["method"];
  EXPECT_EQ(job["carbon_intensity_g_per_kwh"], 50.0);
  EXPECT_NEAR(job["co2_grams"].get<double>(), job["joules"].get<double>() / 3.6e6 * 50.0, 1e-15);
}

TEST_F(ReportCliTest, BadReportFlagsAreClearErrors) {
  expect_clear_error(run_cli({"eval", pruned_, "--data", data_, "--changed-samples", dir_->file("x.svg")}),
                     "--compare");
  expect_clear_error(run_cli({"eval", pruned_, "--compare", dense_, "--data", data_, "--changed-samples",
                              dir_->file("x.png")}),
                     "must end in .svg");
  expect_clear_error(run_cli({"compress", dense_, "--prune", "magnitude:0.5", "--data", data_, "--changed-samples",
                              "/no/such/dir/x.svg", "-o", dir_->file("never.shrk")}),
                     "/no/such/dir");
  EXPECT_FALSE(fs::exists(dir_->file("never.shrk")));
  expect_clear_error(run_cli({"eval", pruned_, "--compare", dir_->file("nope.shrk"), "--data", data_}), "nope.shrk");
  expect_clear_error(run_command({"env", "SHRINK_CPU_WATTS=lots", SHRINK_CLI_PATH, "eval", dense_, "--data", data_}),
                     "SHRINK_CPU_WATTS=lots");
}

}  // namespace
}  // namespace shrink::testing
