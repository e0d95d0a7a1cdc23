// End-to-end: shrink report writes one well-formed, self-contained HTML page about a pruned
// model compared with its base (summary, layers, sizes, per-class change, the grid of changed
// samples, a sweep's chart), a page without a base, and clear errors for bad flags.
#include "support/cli.hpp"
#include "support/fashion_mnist_suite.hpp"
#include "support/temp_dir.hpp"
#include "support/xml.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

namespace shrink::testing {
namespace {

class HtmlReportCliTest : public FashionMnistSuite<HtmlReportCliTest> {
 public:
  static constexpr int kTrain = 1000, kTest = 300;
  static void prepare() {
    setup({"train", "--arch", "lenet-300-100", "--data", data_, "--epochs", "1", "--batch", "32", "--threads", "1",
           "-q", "-o", dir_->file("dense.shrk")});
    setup({"compress", dir_->file("dense.shrk"), "--prune", "magnitude:0.9", "--data", data_, "--threads", "1",
           "-q", "-o", dir_->file("pruned.shrk")});
  }

 protected:
  static std::vector<std::string> section_ids(const XmlElement& root) {
    std::vector<std::string> ids;
    for (const auto* h : find_all(root, "h2")) ids.push_back(h->attributes.at("id"));
    return ids;
  }
};

TEST_F(HtmlReportCliTest, APrunedModelAgainstItsBase) {
  // A results file of two points, as shrink sweep writes them, for the chart.
  const std::string results = dir_->file("results.jsonl");
  std::ofstream(results) << R"({"key":"a","index":0,"point":{"sparsity":0.5},"status":"ok","report":{"accuracy_after":0.8,"file_bytes_after":5000}})"
                         << "\n"
                         << R"({"key":"b","index":1,"point":{"sparsity":0.9},"status":"ok","report":{"accuracy_after":0.7,"file_bytes_after":1000}})"
                         << "\n";
  const std::string page = dir_->file("report.html");
  const auto r = run_cli({"report", dir_->file("pruned.shrk"), "--compare", dir_->file("dense.shrk"), "--data", data_,
                          "--results", results, "--threads", "1", "-o", page, "--report", dir_->file("r.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("summary, layers, size, classes, changed_samples, results: " + results), std::string::npos)
      << r.out;
  const std::string html = read_text(page);
  const XmlElement root = parse_xml(html);  // well-formed
  EXPECT_EQ(section_ids(root), (std::vector<std::string>{"summary", "layers", "size", "classes", "figures"}));
  // Self-contained: no scripts, nothing fetched.
  EXPECT_TRUE(find_all(root, "script").empty());
  EXPECT_TRUE(find_all(root, "link").empty());
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);
  const std::string text = all_text(root);
  EXPECT_NE(text.find("compared with " + dir_->file("dense.shrk")), std::string::npos);
  EXPECT_NE(text.find("Ankle boot"), std::string::npos);  // the class names, from the model
  EXPECT_NE(text.find("Hurt most"), std::string::npos);
  EXPECT_NE(text.find("90.0%"), std::string::npos);  // weight sparsity
  // The layer table: flatten, fc1, relu1, fc2, relu2, fc3 under its header.
  EXPECT_EQ(find_all(*find_all(root, "table")[1], "tr").size(), 7u);
  // The changed samples as images, and the sweep's chart with its Pareto front.
  const auto figures = find_all(root, "figure");
  EXPECT_FALSE(find_all(*figures[figures.size() - 2], "image").empty());
  EXPECT_NE(all_text(*figures.back()).find("Pareto front"), std::string::npos);

  const nlohmann::json report = read_json(dir_->file("r.json"));
  EXPECT_EQ(report["bytes"].get<size_t>(), html.size());
  // The page's accuracy is eval's.
  const auto eval = run_cli({"eval", dir_->file("pruned.shrk"), "--data", data_, "--threads", "1", "-q", "--report",
                             dir_->file("eval.json")});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_EQ(report["accuracy"], read_json(dir_->file("eval.json"))["accuracy"]);
}

TEST_F(HtmlReportCliTest, AModelAlone) {
  const std::string page = dir_->file("alone.html");
  const auto r = run_cli({"report", dir_->file("dense.shrk"), "--data", data_, "-q", "-o", page});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const XmlElement root = parse_xml(read_text(page));
  EXPECT_EQ(section_ids(root), (std::vector<std::string>{"summary", "layers", "size"}));
}

TEST_F(HtmlReportCliTest, BadInputIsAClearError) {
  const std::string model = dir_->file("pruned.shrk");
  expect_clear_error(run_cli({"report", model, "--data", data_, "-o", dir_->file("report.htm")}), ".html");
  expect_clear_error(run_cli({"report", dir_->file("nope.shrk"), "--data", data_, "-o", dir_->file("x.html")}),
                     "nope.shrk");
  expect_clear_error(run_cli({"report", model, "--data", data_, "--results", dir_->file("none.jsonl"), "-o",
                              dir_->file("x.html")}),
                     "none.jsonl");
  expect_clear_error(run_cli({"report", model, "--data", data_, "-o", dir_->file("no/such/dir/x.html")}), "dir");
  EXPECT_FALSE(std::filesystem::exists(dir_->file("x.html")));
}

}  // namespace
}  // namespace shrink::testing
