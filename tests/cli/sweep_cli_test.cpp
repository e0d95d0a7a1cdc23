// End-to-end sweeps: a grid run with several points at once, rerun as a no-op; the same sweep
// as shards merged into bit-identical results; a sweep killed mid-run and resumed (every point
// exactly once, no torn line); a failing point recorded without stopping the rest; the plot of
// the results; and clear errors for bad flags.
#include "support/cli.hpp"
#include "support/fashion_mnist_suite.hpp"
#include "support/temp_dir.hpp"
#include "support/xml.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace shrink::testing {
namespace {

// Every line of a results file, each required to be a whole JSON object.
std::vector<nlohmann::json> read_lines(const std::string& path) {
  const std::string text = read_text(path);
  EXPECT_TRUE(text.empty() || text.back() == '\n') << "torn last line in " << path;
  std::vector<nlohmann::json> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

std::map<std::string, double> accuracy_by_key(const std::vector<nlohmann::json>& lines) {
  std::map<std::string, double> out;
  for (const auto& line : lines) {
    EXPECT_EQ(line["status"], "ok") << line.dump();
    if (line["status"] == "ok") out[line["key"]] = line["report"]["accuracy_after"].get<double>();
  }
  return out;
}

class SweepCliTest : public FashionMnistSuite<SweepCliTest> {
 public:
  static constexpr int kTrain = 1000, kTest = 300;
  static void prepare() {
    setup({"train", "--arch", "lenet-300-100", "--data", data_, "--epochs", "1", "--batch", "32", "--threads", "1",
           "-q", "-o", dir_->file("base.shrk")});
    // 12 points: six pruning ratios x two fine-tuning seeds.
    const nlohmann::json sweep = {
        {"model", "base.shrk"},
        {"data", data_},
        {"threads", 1},
        {"latency_batches", nlohmann::json::array()},  // timing is tested once, below
        {"recipe", {{"passes", {{{"pass", "prune.magnitude"}, {"sparsity", "${sparsity}"}},
                                {{"pass", "train.finetune"}, {"epochs", 1}, {"batch", 100}}}}}},
        {"grid", {{"sparsity", {0.0, 0.3, 0.5, 0.7, 0.8, 0.9}}, {"seed", {0, 1}}}}};
    sweep_ = dir_->file("sweep.json");
    std::ofstream(sweep_) << sweep.dump(2);
    setup({"sweep", sweep_, "--out", dir_->file("full.jsonl"), "--jobs", "2", "-q"});
  }

 protected:
  static inline std::string sweep_;
};

TEST_F(SweepCliTest, RunsEveryPointOnceAndARerunSkipsThem) {
  const auto lines = read_lines(dir_->file("full.jsonl"));
  ASSERT_EQ(lines.size(), 12u);
  std::set<int64_t> indices;
  for (const auto& line : lines) {
    indices.insert(line["index"].get<int64_t>());
    EXPECT_EQ(line["status"], "ok") << line.dump();
    EXPECT_GT(line["seconds"].get<double>(), 0.0);
    const nlohmann::json& report = line["report"];
    EXPECT_NEAR(report["sparsity"].get<double>(), line["point"]["sparsity"].get<double>(), 0.01);
    EXPECT_TRUE(report["energy"]["per_inference_after"]["modelled"].get<bool>());
    EXPECT_EQ(report["class_impact"]["classes"].size(), 10u);
  }
  EXPECT_EQ(indices.size(), 12u);
  const auto again = run_cli({"sweep", sweep_, "--out", dir_->file("full.jsonl")});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("12 already done, 0 ran"), std::string::npos) << again.out;
  EXPECT_EQ(read_lines(dir_->file("full.jsonl")).size(), 12u);

  const auto list = run_cli({"sweep", sweep_, "--list", "--shard", "1/4", "--out", dir_->file("full.jsonl")});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(std::count(list.out.begin(), list.out.end(), '\n'), 3);  // points 1, 5, 9
  EXPECT_EQ(list.out.rfind("1\t{\"seed\":0,\"sparsity\":0.3}\tdone\n", 0), 0u) << list.out;
}

TEST_F(SweepCliTest, ShardsMergeIntoTheSameResults) {
  std::vector<std::string> merge = {"sweep", "--merge"};
  for (int i = 0; i < 3; ++i) {
    const std::string out = dir_->file("shard" + std::to_string(i) + ".jsonl");
    const auto r = run_cli({"sweep", sweep_, "--shard", std::to_string(i) + "/3", "--out", out, "-q"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(read_lines(out).size(), 4u);
    merge.push_back(out);
  }
  // A Slurm array task shards itself from its environment.
  const auto slurm = run_command({"env", "SLURM_ARRAY_TASK_ID=2", "SLURM_ARRAY_TASK_COUNT=3", SHRINK_CLI_PATH,
                                  "sweep", sweep_, "--list"});
  ASSERT_EQ(slurm.exit_code, 0) << slurm.err;
  EXPECT_EQ(slurm.out.rfind("2\t", 0), 0u) << slurm.out;
  EXPECT_EQ(std::count(slurm.out.begin(), slurm.out.end(), '\n'), 4);

  merge.insert(merge.end(), {"--out", dir_->file("merged.jsonl")});
  const auto r = run_cli(merge);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("12 points, 0 duplicates, 0 conflicts"), std::string::npos) << r.out;
  const auto merged = read_lines(dir_->file("merged.jsonl"));
  ASSERT_EQ(merged.size(), 12u);
  for (size_t i = 0; i < merged.size(); ++i) EXPECT_EQ(merged[i]["index"], static_cast<int64_t>(i));
  // Bit-identical accuracies: the same seed and thread count, whichever process ran the point.
  EXPECT_EQ(accuracy_by_key(merged), accuracy_by_key(read_lines(dir_->file("full.jsonl"))));

  // Merging the unsharded run in too: every point a duplicate, none a conflict.
  merge.pop_back();
  merge.pop_back();
  merge.insert(merge.end(), {dir_->file("full.jsonl"), "--out", dir_->file("merged2.jsonl")});
  const auto twice = run_cli(merge);
  EXPECT_NE(twice.out.find("12 points, 12 duplicates, 0 conflicts"), std::string::npos) << twice.out;
}

TEST_F(SweepCliTest, AKilledSweepResumesWithEveryPointExactlyOnce) {
  const std::string out = dir_->file("killed.jsonl");
  // Start the sweep, wait for its second result, kill it (SIGKILL: no chance to clean up).
  const std::string script = "'" + std::string(SHRINK_CLI_PATH) + "' sweep '" + sweep_ + "' --out '" + out +
                             "' -q & pid=$!; "
                             "while [ \"$(cat '" + out + "' 2>/dev/null | wc -l)\" -lt 2 ]; do sleep 0.02; done; "
                             "kill -9 $pid; wait $pid; exit 0";
  ASSERT_EQ(run_command({"sh", "-c", script}).exit_code, 0);
  const size_t after_kill = read_lines(out).size();
  EXPECT_GE(after_kill, 2u);
  EXPECT_LT(after_kill, 12u) << "the sweep finished before the kill";
  // The points that were in flight died with the sweep: nothing more arrives.
  run_command({"sleep", "1"});
  EXPECT_EQ(read_lines(out).size(), after_kill);

  const auto resumed = run_cli({"sweep", sweep_, "--out", out, "-q"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.out.find(std::to_string(after_kill) + " already done"), std::string::npos) << resumed.out;
  const auto lines = read_lines(out);
  ASSERT_EQ(lines.size(), 12u);
  std::set<std::string> keys;
  for (const auto& line : lines) EXPECT_TRUE(keys.insert(line["key"]).second) << "twice: " << line["key"];
  EXPECT_EQ(accuracy_by_key(lines), accuracy_by_key(read_lines(dir_->file("full.jsonl"))));
}

TEST_F(SweepCliTest, AFailingPointIsRecordedAndTheOthersRun) {
  nlohmann::json sweep = nlohmann::json::parse(read_text(sweep_));
  sweep["model"] = dir_->file("base.shrk");
  sweep["recipe"]["passes"][0]["exclude"] = "${exclude}";
  sweep["recipe"]["passes"].erase(1);
  sweep["grid"] = {{"sparsity", {0.5}}, {"exclude", {nlohmann::json::array(), {"fc9"}, {"fc3"}}}};
  const std::string path = dir_->file("failing.json");
  std::ofstream(path) << sweep.dump();
  const auto r = run_cli({"sweep", path, "--out", dir_->file("failing.jsonl"), "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("3 ran (1 failed)"), std::string::npos) << r.out;
  const auto lines = read_lines(dir_->file("failing.jsonl"));
  ASSERT_EQ(lines.size(), 3u);
  int failed = 0;
  for (const auto& line : lines)
    if (line["status"] == "failed") {
      ++failed;
      EXPECT_NE(line["error"].get<std::string>().find("fc9"), std::string::npos) << line.dump();
    }
  EXPECT_EQ(failed, 1);
}

TEST_F(SweepCliTest, ModelFlagReplacesTheSweepsModel) {
  // The sweep file names a model that is not there; --model gives one (to every child too).
  nlohmann::json sweep = nlohmann::json::parse(read_text(sweep_));
  sweep["model"] = "not-trained-yet.shrk";
  sweep["models_dir"] = "kept";  // created, relative to the sweep file
  sweep["latency_batches"] = {1};
  const std::string path = dir_->file("elsewhere.json");
  std::ofstream(path) << sweep.dump();
  const std::string out = dir_->file("model_flag.jsonl");
  expect_clear_error(run_cli({"sweep", path, "--out", out}), "not-trained-yet.shrk");
  EXPECT_FALSE(std::filesystem::exists(out));

  std::filesystem::copy_file(dir_->file("base.shrk"), dir_->file("copy.shrk"));
  const auto r = run_cli({"sweep", path, "--model", dir_->file("copy.shrk"), "--shard", "0/6", "--out", out, "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = read_lines(out);
  ASSERT_EQ(lines.size(), 2u);  // points 0 and 6
  EXPECT_TRUE(std::filesystem::is_regular_file(dir_->file("kept/point-0.shrk")));
  EXPECT_TRUE(std::filesystem::is_regular_file(dir_->file("kept/point-6.shrk")));
  EXPECT_EQ(lines[0]["report"]["output"], dir_->file("kept/point-0.shrk"));
  ASSERT_EQ(lines[0]["report"]["latency"].size(), 1u);  // timed at batch 1 only
  EXPECT_GT(lines[0]["report"]["latency"][0]["after"]["median_ms"].get<double>(), 0.0);
  const auto full = accuracy_by_key(read_lines(dir_->file("full.jsonl")));
  for (const auto& [key, accuracy] : accuracy_by_key(lines)) EXPECT_EQ(accuracy, full.at(key)) << key;

  // A model is known by its bytes, not its path: the same bytes under another name resume the
  // same results; another model is refused instead of being taken for done.
  const auto same = run_cli({"sweep", path, "--model", dir_->file("base.shrk"), "--shard", "0/6", "--out", out});
  ASSERT_EQ(same.exit_code, 0) << same.err;
  EXPECT_NE(same.out.find("2 already done, 0 ran"), std::string::npos) << same.out;
  expect_clear_error(run_cli({"sweep", path, "--model", dir_->file("kept/point-6.shrk"), "--out", out}),
                     "holds results of another base model or recipe");
  EXPECT_EQ(read_lines(out).size(), 2u);
}

TEST_F(SweepCliTest, PlotDrawsTheResultsWithTheirParetoFront) {
  const std::string svg = dir_->file("front.svg");
  const auto r = run_cli({"plot", dir_->file("full.jsonl"), "--x", "file_bytes", "--y", "accuracy", "--color", "seed",
                          "--log-x", "-o", svg});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("plotted 12 of 12 results (2 series)"), std::string::npos) << r.out;
  const XmlElement root = parse_xml(read_text(svg));
  std::string text;
  for (const auto* t : find_all(root, "text")) text += all_text(*t) + "|";
  EXPECT_NE(text.find("Pareto front"), std::string::npos) << text;
  EXPECT_NE(text.find("seed 0"), std::string::npos) << text;
  expect_clear_error(run_cli({"plot", dir_->file("full.jsonl"), "--y", "acuracy", "-o", svg}), "acuracy");
  expect_clear_error(run_cli({"plot", dir_->file("full.jsonl"), "-o", dir_->file("front.png")}), ".svg");
}

TEST_F(SweepCliTest, BadSweepInputIsAClearError) {
  expect_clear_error(run_cli({"sweep", dir_->file("nope.json"), "--out", dir_->file("x.jsonl")}), "nope.json");
  expect_clear_error(run_cli({"sweep", sweep_, "--shard", "3/3", "--out", dir_->file("x.jsonl")}), "INDEX/COUNT");
  expect_clear_error(run_cli({"sweep", sweep_}), "--out");
  expect_clear_error(run_cli({"sweep", "--merge", dir_->file("full.jsonl")}), "--out");
  expect_clear_error(run_command({"env", "SLURM_ARRAY_TASK_ID=5", "SLURM_ARRAY_TASK_COUNT=3", SHRINK_CLI_PATH,
                                  "sweep", sweep_, "--list"}),
                     "contiguous");
  std::ofstream(dir_->file("not_results.jsonl")) << "hello\n";
  expect_clear_error(run_cli({"sweep", sweep_, "--out", dir_->file("not_results.jsonl")}), "line 1");
  EXPECT_FALSE(std::filesystem::exists(dir_->file("x.jsonl")));
}

}  // namespace
}  // namespace shrink::testing
