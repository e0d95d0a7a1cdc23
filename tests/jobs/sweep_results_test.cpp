// Results files: whole lines appended, a partial last line ignored and then cut off, bad lines
// named, and merging shards with duplicates and conflicts reported.
#include "shrink/jobs/sweep_results.hpp"

#include "support/errors.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace shrink {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

nlohmann::json line(int64_t index, const std::string& status, double accuracy) {
  nlohmann::json l = {{"key", "{\"i\":" + std::to_string(index) + "}"}, {"index", index}, {"status", status}};
  if (status == "ok") l["report"] = {{"accuracy_after", accuracy}, {"file_bytes_after", 100}};
  return l;
}

TEST(SweepResults, AppendsWholeLinesAndReadsThemBack) {
  testing::TempDir dir;
  const std::string path = dir.file("r.jsonl");
  EXPECT_TRUE(read_results(path).lines.empty());  // a missing file is empty
  append_result(path, line(0, "ok", 0.8));
  append_result(path, line(1, "failed", 0));
  const ResultsFile r = read_results(path);
  ASSERT_EQ(r.lines.size(), 2u);
  EXPECT_EQ(r.lines[1]["status"], "failed");
  EXPECT_EQ(r.keys.count("{\"i\":1}"), 1u);
  EXPECT_FALSE(r.torn_tail);
  EXPECT_EQ(read_text(path).back(), '\n');
}

TEST(SweepResults, APartialLastLineIsIgnoredThenCutOff) {
  testing::TempDir dir;
  const std::string path = dir.file("r.jsonl");
  append_result(path, line(0, "ok", 0.8));
  std::ofstream(path, std::ios::app) << R"({"key":"{\"i\":1}","ind)";  // the machine went down
  ResultsFile r = read_results(path);
  EXPECT_TRUE(r.torn_tail);
  EXPECT_EQ(r.lines.size(), 1u);
  EXPECT_EQ(r.keys.count("{\"i\":1}"), 0u);  // not done: it runs again
  append_result(path, line(1, "ok", 0.7));
  r = read_results(path);
  EXPECT_FALSE(r.torn_tail);
  ASSERT_EQ(r.lines.size(), 2u);
  EXPECT_EQ(r.lines[1]["index"], 1);
  const std::string text = read_text(path);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2);
}

TEST(SweepResults, ALineThatIsNotAResultIsNamed) {
  testing::TempDir dir;
  const std::string path = dir.file("r.jsonl");
  std::ofstream(path) << line(0, "ok", 0.8).dump() << "\nnot json\n";
  EXPECT_NE(testing::bad_input_message([&] { read_results(path); }).find("line 2"), std::string::npos);
}

TEST(SweepResults, MergeReportsDuplicatesAndConflicts) {
  testing::TempDir dir;
  const std::string a = dir.file("a.jsonl"), b = dir.file("b.jsonl"), out = dir.file("all.jsonl");
  append_result(a, line(2, "ok", 0.5));
  append_result(a, line(0, "ok", 0.8));
  append_result(a, line(3, "failed", 0));
  append_result(b, line(1, "ok", 0.7));
  append_result(b, line(0, "ok", 0.8));   // duplicate
  append_result(b, line(2, "ok", 0.6));   // conflict: kept 0.5
  append_result(b, line(3, "ok", 0.4));   // a retry that worked replaces the failure
  const MergeSummary summary = merge_results({a, b}, out);
  EXPECT_EQ(summary.lines, 7);
  EXPECT_EQ(summary.points, 4);
  EXPECT_EQ(summary.duplicates, 1);
  EXPECT_EQ(summary.conflicts, (std::vector<std::string>{"{\"i\":2}"}));
  const ResultsFile merged = read_results(out);
  ASSERT_EQ(merged.lines.size(), 4u);
  for (int64_t i = 0; i < 4; ++i) EXPECT_EQ(merged.lines[i]["index"], i);  // in sweep order
  EXPECT_EQ(merged.lines[2]["report"]["accuracy_after"], 0.5);
  EXPECT_EQ(merged.lines[3]["status"], "ok");

  EXPECT_NE(testing::bad_input_message([&] { merge_results({a, dir.file("nope.jsonl")}, out); }).find("nope.jsonl"),
            std::string::npos);
  EXPECT_NE(testing::bad_input_message([&] { merge_results({a, b}, a); }).find("also an input"), std::string::npos);
}

}  // namespace
}  // namespace shrink
