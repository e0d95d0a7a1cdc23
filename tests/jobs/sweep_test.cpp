// Sweep files: grid expansion and listed points, placeholders keeping their types, the errors a
// typo deserves, and sharding (by flag or Slurm's environment) that partitions the points.
#include "shrink/jobs/sweep.hpp"

#include "support/errors.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>

namespace shrink {
namespace {

nlohmann::json prune_sweep() {
  return {{"model", "base.shrk"},
          {"recipe", {{"passes", {{{"pass", "prune.magnitude"}, {"sparsity", "${sparsity}"}},
                                  {{"pass", "train.finetune"}, {"epochs", "${epochs}"}}}}}},
          {"grid", {{"sparsity", {0.5, 0.9}}, {"seed", {0, 1, 2}}, {"epochs", {1}}}},
          {"points", {{{"sparsity", 0.95}, {"seed", 7}, {"epochs", 2}}}}};
}

TEST(Sweep, ExpandsTheGridThenTheListedPoints) {
  const Sweep sweep = parse_sweep(prune_sweep(), "/exp/sweeps/s.json");
  EXPECT_EQ(sweep.model, "/exp/sweeps/base.shrk");  // relative to the sweep file
  EXPECT_EQ(sweep.threads, 1);
  ASSERT_EQ(sweep.points.size(), 7u);
  // Keys in alphabetical order (epochs, seed, sparsity), the last varying fastest.
  EXPECT_EQ(sweep.points[0].key, R"({"epochs":1,"seed":0,"sparsity":0.5})");
  EXPECT_EQ(sweep.points[1].key, R"({"epochs":1,"seed":0,"sparsity":0.9})");
  EXPECT_EQ(sweep.points[2].key, R"({"epochs":1,"seed":1,"sparsity":0.5})");
  EXPECT_EQ(sweep.points[6].key, R"({"epochs":2,"seed":7,"sparsity":0.95})");
  for (size_t i = 0; i < sweep.points.size(); ++i) EXPECT_EQ(sweep.points[i].index, static_cast<int64_t>(i));
  EXPECT_EQ(sweep.latency_batches, (std::vector<int64_t>{1, 256}));  // compress's default
}

TEST(Sweep, LatencyBatches) {
  nlohmann::json json = prune_sweep();
  json["latency_batches"] = nlohmann::json::array();
  EXPECT_TRUE(parse_sweep(json, "s.json").latency_batches.empty());
  json["latency_batches"] = {64};
  EXPECT_EQ(parse_sweep(json, "s.json").latency_batches, (std::vector<int64_t>{64}));
  json["latency_batches"] = {1, 0};
  EXPECT_NE(testing::bad_input_message([&] { parse_sweep(json, "s.json"); }).find("batch sizes >= 1"),
            std::string::npos);
}

TEST(Sweep, PlaceholdersKeepTheValueType) {
  Sweep sweep = parse_sweep(prune_sweep(), "s.json");
  // Inside a longer string a placeholder becomes the value's text (no pass takes such a
  // string option yet, so it goes into the parsed recipe directly).
  sweep.recipe["passes"][0]["note"] = "s=${sparsity}, seed ${seed}";
  const nlohmann::json recipe = point_recipe(sweep, sweep.points[1]);
  EXPECT_EQ(recipe["passes"][0]["sparsity"], 0.9);
  EXPECT_TRUE(recipe["passes"][0]["sparsity"].is_number());
  EXPECT_EQ(recipe["passes"][1]["epochs"], 1);
  EXPECT_EQ(recipe["passes"][0]["note"], "s=0.9, seed 0");
}

TEST(Sweep, TyposAreClearErrors) {
  nlohmann::json unused = prune_sweep();
  unused["grid"]["sparsty"] = {0.1};
  EXPECT_NE(testing::bad_input_message([&] { parse_sweep(unused, "s.json"); }).find("\"sparsty\" is used nowhere"),
            std::string::npos);

  nlohmann::json missing = prune_sweep();
  missing["recipe"]["passes"][0]["scope"] = "${scope}";
  EXPECT_NE(testing::bad_input_message([&] { parse_sweep(missing, "s.json"); }).find("uses ${scope}"),
            std::string::npos);

  nlohmann::json empty = prune_sweep();
  empty["grid"]["seed"] = nlohmann::json::array();
  EXPECT_NE(testing::bad_input_message([&] { parse_sweep(empty, "s.json"); }).find("non-empty list"),
            std::string::npos);

  nlohmann::json twice = prune_sweep();
  twice["points"].push_back({{"sparsity", 0.5}, {"seed", 0}, {"epochs", 1}});
  EXPECT_NE(testing::bad_input_message([&] { parse_sweep(twice, "s.json"); }).find("appears twice"),
            std::string::npos);

  nlohmann::json bad_pass = prune_sweep();
  bad_pass["recipe"]["passes"][0]["pass"] = "prune.magic";
  const std::string message = testing::bad_input_message([&] { parse_sweep(bad_pass, "s.json"); });
  EXPECT_NE(message.find("sweep s.json: point"), std::string::npos) << message;
  EXPECT_NE(message.find("prune.magic"), std::string::npos) << message;

  nlohmann::json bad_value = prune_sweep();
  bad_value["grid"]["sparsity"] = {0.5, 1.5};
  EXPECT_NE(testing::bad_input_message([&] { parse_sweep(bad_value, "s.json"); }).find("1.5"), std::string::npos);

  nlohmann::json unknown = prune_sweep();
  unknown["girds"] = 1;
  EXPECT_NE(testing::bad_input_message([&] { parse_sweep(unknown, "s.json"); }).find("unknown field \"girds\""),
            std::string::npos);

  EXPECT_NE(testing::bad_input_message([&] { read_sweep("/no/such/sweep.json"); }).find("/no/such/sweep.json"),
            std::string::npos);
}

TEST(Sweep, ShardsPartitionThePoints) {
  nlohmann::json json = prune_sweep();
  json["grid"]["seed"] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};  // 23 points: shards of unequal size
  const Sweep sweep = parse_sweep(json, "s.json");
  ASSERT_EQ(sweep.points.size(), 23u);
  for (int n : {1, 2, 4, 5, 30}) {
    std::multiset<std::string> seen;
    for (int i = 0; i < n; ++i)
      for (const SweepPoint& p : shard_points(sweep.points, {i, n})) seen.insert(p.key);
    EXPECT_EQ(seen.size(), sweep.points.size()) << n << " shards";
    for (const SweepPoint& p : sweep.points) EXPECT_EQ(seen.count(p.key), 1u) << p.key;
  }
}

TEST(Sweep, ShardFlag) {
  const Shard s = parse_shard("2/4");
  EXPECT_EQ(s.index, 2);
  EXPECT_EQ(s.count, 4);
  for (const char* bad : {"4/4", "-1/4", "1", "1/0", "a/b", "1/4x", ""})
    EXPECT_NE(testing::bad_input_message([&] { parse_shard(bad); }).find("INDEX/COUNT"), std::string::npos) << bad;
}

TEST(Sweep, ShardFromSlurmJobArray) {
  ::unsetenv("SLURM_ARRAY_TASK_ID");
  ::unsetenv("SLURM_ARRAY_TASK_COUNT");
  ::unsetenv("SLURM_ARRAY_TASK_MIN");
  EXPECT_EQ(shard_from_environment().count, 1);
  ::setenv("SLURM_ARRAY_TASK_ID", "3", 1);
  ::setenv("SLURM_ARRAY_TASK_COUNT", "4", 1);
  EXPECT_EQ(shard_from_environment().index, 3);
  ::setenv("SLURM_ARRAY_TASK_ID", "4", 1);  // --array=1-4
  ::setenv("SLURM_ARRAY_TASK_MIN", "1", 1);
  const Shard s = shard_from_environment();
  EXPECT_EQ(s.index, 3);
  EXPECT_EQ(s.count, 4);
  ::setenv("SLURM_ARRAY_TASK_ID", "9", 1);
  EXPECT_NE(testing::bad_input_message([] { shard_from_environment(); }).find("contiguous"), std::string::npos);
  ::unsetenv("SLURM_ARRAY_TASK_ID");
  ::unsetenv("SLURM_ARRAY_TASK_COUNT");
  ::unsetenv("SLURM_ARRAY_TASK_MIN");
}

TEST(Sweep, RunsPendingPointsAndRecordsFailuresWithoutStopping) {
  Sweep sweep = parse_sweep(prune_sweep(), "s.json");
  sweep.model = ::testing::TempDir() + "sweep_test_base.shrk";
  std::ofstream(sweep.model) << "the base model's bytes";
  // A runner standing in for the compress job: fails point 3, counts the calls.
  std::vector<int64_t> ran;
  SweepRun run;
  run.out = ::testing::TempDir() + "sweep_test_results.jsonl";
  std::remove(run.out.c_str());
  run.runner = [&](const SweepPoint& p) {
    ran.push_back(p.index);
    nlohmann::json line = {{"key", p.key}, {"index", p.index}, {"point", p.options}};
    line["status"] = p.index == 3 ? "failed" : "ok";
    return line;
  };
  run.shard = {0, 2};
  SweepSummary first = run_sweep(sweep, run);
  EXPECT_EQ(first.points, 4);
  EXPECT_EQ(first.ran, 4);
  EXPECT_EQ(first.failed, 0);
  run.shard = {1, 2};
  SweepSummary second = run_sweep(sweep, run);
  EXPECT_EQ(second.ran, 3);
  EXPECT_EQ(second.failed, 1);
  EXPECT_EQ(ran, (std::vector<int64_t>{0, 2, 4, 6, 1, 3, 5}));
  // A rerun of the whole sweep skips every recorded point.
  run.shard = {};
  run.jobs = 3;
  const SweepSummary again = run_sweep(sweep, run);
  EXPECT_EQ(again.skipped, 7);
  EXPECT_EQ(again.ran, 0);

  // The results belong to this base model and recipe: another model's bytes, or an edited
  // recipe, must not be taken for them.
  auto expect_refused = [&](const Sweep& other) {
    const std::string message = testing::bad_input_message([&] { run_sweep(other, run); });
    EXPECT_NE(message.find("another base model or recipe"), std::string::npos) << message;
    EXPECT_NE(message.find("its own --out file"), std::string::npos) << message;
  };
  Sweep edited = sweep;
  edited.recipe["passes"][1]["epochs"] = 3;
  expect_refused(edited);
  std::ofstream(sweep.model) << "another model's bytes";
  expect_refused(sweep);
  EXPECT_EQ(ran.size(), 7u);
  std::remove(run.out.c_str());
  std::remove(sweep.model.c_str());
}

}  // namespace
}  // namespace shrink
