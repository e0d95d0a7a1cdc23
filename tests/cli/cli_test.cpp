// End-to-end runs of the shrink binary: the user's path through train, eval, inspect and
// compress on a real (small) Fashion-MNIST subset, and the clear-error contract on bad input.
#include "shrink/io/container.hpp"
#include "shrink/io/model_file.hpp"
#include "shrink/nn/architectures.hpp"
#include "support/cli.hpp"
#include "support/fashion_mnist_suite.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace shrink::testing {
namespace {

namespace fs = std::filesystem;

class CliTest : public FashionMnistSuite<CliTest> {
 public:
  static constexpr int kTrain = 3000, kTest = 1000;
  static void prepare() {
    model_ = dir_->file("mlp.shrk");
    train_ = setup({"train", "--arch", "lenet-300-100", "--data", data_, "--epochs", "3", "--batch", "32",
                    "--lr", "0.01", "--threads", "2", "-q", "-o", model_, "--report", dir_->file("train.json")});
  }

 protected:
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

TEST_F(CliTest, IdleThreadsWaitPassivelyUnlessTheEnvironmentSaysOtherwise) {
  // libgomp reads OMP_WAIT_POLICY as it loads: the CLI sets passive and runs itself again, and
  // the eval report shows what its threads ran with.
  auto policy = [&](std::vector<std::string> env) {
    std::vector<std::string> argv{"env", "-u", "OMP_WAIT_POLICY", "-u", "GOMP_SPINCOUNT"};
    argv.insert(argv.end(), env.begin(), env.end());
    for (const char* a : {SHRINK_CLI_PATH, "eval", "-q", "--threads", "2", "--report", "-"}) argv.push_back(a);
    argv.push_back(model_);
    argv.push_back("--data");
    argv.push_back(data_);
    const CliResult r = run_command(argv);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const auto openmp = nlohmann::json::parse(r.out)["openmp"];
    EXPECT_EQ(openmp["threads"], 2);
    return openmp;
  };
  EXPECT_EQ(policy({})["OMP_WAIT_POLICY"], "passive");
  EXPECT_EQ(policy({"OMP_WAIT_POLICY=active"})["OMP_WAIT_POLICY"], "active");
  const auto spin = policy({"GOMP_SPINCOUNT=10000"});
  EXPECT_TRUE(spin["OMP_WAIT_POLICY"].is_null()) << spin.dump();
  EXPECT_EQ(spin["GOMP_SPINCOUNT"], "10000");
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
  // Every tensor identical, value by value and mask by mask (summaries could agree on models
  // that differ).
  const Model ma = read_model(dir_->file("a.shrk"));
  const Model mb = read_model(dir_->file("b.shrk"));
  const auto pa = ma.parameters();
  const auto pb = mb.parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_EQ(pa[i]->name, pb[i]->name);
    EXPECT_TRUE(pa[i]->value == pb[i]->value) << pa[i]->name;
    EXPECT_TRUE(pa[i]->mask == pb[i]->mask) << pa[i]->name;
  }
  EXPECT_EQ(ma.graph_json(), mb.graph_json());
  // And the comparison would notice: the unpruned model differs from both.
  const Model original = read_model(model_);
  EXPECT_FALSE(original.parameter("fc1.weight").value == ma.parameter("fc1.weight").value);
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

// The clear-error contract needs no dataset: a model built in-process and small CSV files
// stand in for Fashion-MNIST, so these tests run (and can fail) on a machine without it.
class CliErrors : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    model_ = dir_->file("mlp.shrk");
    // Flat samples of 784 values, as a CSV file holds them.
    save_model(build_architecture("lenet-300-100", {784}, 10), model_);
    // Samples that fit the model: 784 pixel values and a label.
    csv_ = "csv:" + dir_->file("pixels.csv");
    std::ofstream csv(dir_->file("pixels.csv"));
    for (int row = 0; row < 8; ++row) {
      for (int j = 0; j < 784; ++j) csv << (row * 31 + j) % 256 << ",";
      csv << row % 10 << "\n";
    }
  }
  static void TearDownTestSuite() { delete dir_; }

  static inline TempDir* dir_ = nullptr;
  static inline std::string model_, csv_;
};

TEST_F(CliErrors, MissingModelFileIsAClearError) {
  expect_clear_error(run_cli({"eval", dir_->file("nope.shrk"), "--data", csv_}), "nope.shrk");
}

TEST_F(CliErrors, TruncatedModelFileIsAClearError) {
  const std::string bytes = read_text(model_);
  const std::string cut = dir_->file("cut.shrk");
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  expect_clear_error(run_cli({"eval", cut, "--data", csv_}), "truncated");
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, 5);
  expect_clear_error(run_cli({"inspect", cut}), "cut.shrk");
}

TEST_F(CliErrors, CorruptedModelFileIsAClearError) {
  std::string bytes = read_text(model_);
  for (size_t i = 8; i < 40; ++i) bytes[i] = '#';
  const std::string bad = dir_->file("bad.shrk");
  std::ofstream(bad, std::ios::binary) << bytes;
  expect_clear_error(run_cli({"inspect", bad}), "bad.shrk");
}

TEST_F(CliErrors, WrongDatasetPathIsAClearError) {
  expect_clear_error(run_cli({"eval", model_, "--data", "fashion-mnist:/no/such/dir"}), "/no/such/dir");
  expect_clear_error(run_cli({"train", "--data", "imagenet", "-o", dir_->file("x.shrk")}), "imagenet");
}

TEST_F(CliErrors, BadFlagValuesAreClearErrors) {
  expect_clear_error(run_cli({"train", "--epochs", "abc", "-o", dir_->file("x.shrk")}), "--epochs");
  expect_clear_error(run_cli({"train", "--lr", "-1", "-o", dir_->file("x.shrk")}), "--lr");
  expect_clear_error(run_cli({"compress", model_, "--prune", "magnitude:1.5", "--data", csv_, "-o",
                              dir_->file("x.shrk")}),
                     "sparsity");
  expect_clear_error(run_cli({"compress", model_, "--prune", "random:0.5", "-o", dir_->file("x.shrk")}),
                     "random");
  expect_clear_error(run_cli({"train", "--arch", "alexnet", "--data", csv_, "-o", dir_->file("x.shrk")}),
                     "alexnet");
  expect_clear_error(run_cli({"frobnicate"}), "frobnicate");
}

TEST_F(CliErrors, ShapeMismatchIsAClearError) {
  const std::string csv = dir_->file("iris.csv");
  std::ofstream(csv) << "5.1,3.5,1.4,0.2,0\n4.9,3.0,1.4,0.2,0\n6.3,3.3,6.0,2.5,2\n5.8,2.7,5.1,1.9,2\n"
                        "7.0,3.2,4.7,1.4,1\n6.4,3.2,4.5,1.5,1\n";
  expect_clear_error(run_cli({"eval", model_, "--data", "csv:" + csv}), "shape");
}

TEST_F(CliErrors, ALossThatBlowsUpStopsTrainingWithTheBatchAndTheRate) {
  // At lr 10 the second batch's loss is 750, 600 times the first's: finite, but no training.
  const std::string csv = dir_->file("iris.csv");
  std::ofstream(csv) << "5.1,3.5,1.4,0.2,0\n4.9,3.0,1.4,0.2,0\n6.3,3.3,6.0,2.5,2\n5.8,2.7,5.1,1.9,2\n"
                        "7.0,3.2,4.7,1.4,1\n6.4,3.2,4.5,1.5,1\n";
  const CliResult r = run_cli({"train", "--arch", "mlp", "--hidden", "4", "--data", "csv:" + csv, "--batch",
                               "2", "--lr", "10", "-q", "-o", dir_->file("blown.shrk")});
  expect_clear_error(r, "training diverged: the loss jumped to");
  EXPECT_NE(r.err.find("in epoch 1, batch 2; lower the learning rate (10)"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_->file("blown.shrk")));
}

TEST_F(CliErrors, TheInputIsNeverOverwrittenAndFailuresLeaveNoFiles) {
  const std::string before = read_text(model_);
  expect_clear_error(run_cli({"compress", model_, "--prune", "magnitude:0.5", "--data", csv_, "-o", model_}),
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


// The subcommands `shrink --help` lists.
std::vector<std::string> subcommands() {
  const CliResult help = run_cli({"--help"});
  std::vector<std::string> names;
  std::istringstream lines(help.out.substr(help.out.find("Subcommands:")));
  std::string line;
  std::getline(lines, line);
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string name;
    if (words >> name) names.push_back(name);
  }
  return names;
}

// Every numeric flag of every subcommand, given a value it refuses, says so in one short line
// (CLI11's own range check wrote out 1.8e308 in 309 digits for --lr -1).
TEST_F(CliErrors, NumberFlagsRefuseBadValuesInOneShortLine) {
  const std::vector<std::string> commands = subcommands();
  ASSERT_GE(commands.size(), 6u);
  int checked = 0;
  for (const std::string& command : commands) {
    const std::string help = run_cli({command, "--help"}).out;
    std::istringstream lines(help);
    for (std::string line; std::getline(lines, line);) {
      std::istringstream words(line);
      std::string names, type;
      words >> names >> type;
      if (names.rfind("--", 0) != 0 && names.rfind("-", 0) != 0) continue;
      if (type.rfind("FLOAT", 0) != 0 && type.rfind("INT", 0) != 0 && type.rfind("UINT", 0) != 0)
        continue;
      const std::string flag = names.substr(names.rfind(',') + 1);
      for (const char* value : {"-1", "1e999", "abc"}) {
        // Arguments that fail fast if the value were accepted: nothing here can start work.
        std::vector<std::string> args = {command, "/no/such/model.shrk", flag, value, "-o",
                                         "/no/such/out.shrk", "--data", "fashion-mnist:/no/such"};
        const CliResult r = run_cli(args);
        EXPECT_EQ(r.exit_code, 2) << command << " " << flag << " " << value << ": " << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
        EXPECT_LT(r.err.size(), 200u) << command << " " << flag << " " << value << ": " << r.err;
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 30);
  const CliResult lr = run_cli({"train", "--lr", "-1", "-o", dir_->file("x.shrk")});
  EXPECT_EQ(lr.err, "error: --lr: must be a positive number, got -1\n");
}

TEST_F(CliErrors, UnknownFlagsAndCommandsGetADidYouMean) {
  expect_clear_error(run_cli({"train", "--epoch", "3", "-o", dir_->file("x.shrk")}),
                     "unknown flag --epoch for 'shrink train'; did you mean --epochs?");
  expect_clear_error(run_cli({"compress", model_, "--prun=magnitude:0.5", "-o", dir_->file("x.shrk")}),
                     "did you mean --prune?");
  expect_clear_error(run_cli({"inspect", model_, "--frobnicate"}), "unknown flag --frobnicate");
  expect_clear_error(run_cli({"trian", "--epochs", "3"}), "unknown command 'trian'; did you mean 'train'?");
  const CliResult unknown = run_cli({"frobnicate"});
  expect_clear_error(unknown, "frobnicate");
  EXPECT_EQ(unknown.err.find("did you mean"), std::string::npos) << unknown.err;
}

TEST_F(CliErrors, NoCommandPointsToHelp) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{}, {"-v"}, {"--threads", "2"}}) {
    const CliResult r = run_cli(args);
    expect_clear_error(r, "no command given");
    EXPECT_NE(r.err.find("shrink --help"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("train"), std::string::npos) << r.err;
  }
}

TEST_F(CliErrors, CommonFlagsMayComeBeforeTheCommand) {
  const CliResult after = run_cli({"inspect", model_, "--json", "-q", "--threads", "1"});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"-q", "--threads", "1", "inspect", model_, "--json"},
        {"--threads=1", "-q", "inspect", model_, "--json"}}) {
    const CliResult before = run_cli(args);
    EXPECT_EQ(before.exit_code, 0) << before.err;
    EXPECT_EQ(before.out, after.out);
  }
  const CliResult report = run_cli({"--report", dir_->file("first.json"), "inspect", model_});
  EXPECT_EQ(report.exit_code, 0) << report.err;
  EXPECT_EQ(read_json(dir_->file("first.json"))["parameters"], 266610);
}

TEST_F(CliErrors, AModelPathThatIsNoModelFileSaysWhy) {
  expect_clear_error(run_cli({"eval", ".", "--data", csv_}), "cannot read model file .: it is a directory");
  expect_clear_error(run_cli({"inspect", dir_->file("model")}), "its name has no extension");
}

// An unwritable --report fails before any work (the dataset here does not even exist), names
// the report, and does not leak the name of a temporary file.
TEST_F(CliErrors, ReportPathIsCheckedBeforeAnyWork) {
  const std::string missing = dir_->file("no/such/r.json");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"train", "--data", "fashion-mnist:/no/such", "-o", dir_->file("x.shrk")},
        {"compress", model_, "--prune", "magnitude:0.5", "--data", "fashion-mnist:/no/such", "-o",
         dir_->file("x.shrk")},
        {"inspect", model_}}) {
    std::vector<std::string> with_report = args;
    with_report.insert(with_report.end(), {"--report", missing});
    const CliResult r = run_cli(with_report);
    expect_clear_error(r, "cannot write report " + missing + ": directory");
    EXPECT_EQ(r.err.find(".tmp-"), std::string::npos) << r.err;
  }
  expect_clear_error(run_cli({"inspect", model_, "--report", dir_->path().string()}), "it is a directory");
}

// "--report -": the JSON report alone on standard output, whatever the command prints goes to
// standard error; floats read as typed; epochs counted from 1 as the log does.
TEST_F(CliErrors, ReportToStandardOutputIsTheOnlyThingThere) {
  const CliResult inspect = run_cli({"inspect", model_, "--report", "-"});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_EQ(nlohmann::json::parse(inspect.out)["parameters"], 266610);
  EXPECT_NE(inspect.err.find("fc1"), std::string::npos) << "the table goes to stderr";

  const std::string iris = dir_->file("iris.csv");
  std::ofstream(iris) << "5.1,3.5,1.4,0.2,0\n4.9,3.0,1.4,0.2,0\n6.3,3.3,6.0,2.5,2\n5.8,2.7,5.1,1.9,2\n"
                         "7.0,3.2,4.7,1.4,1\n6.4,3.2,4.5,1.5,1\n";
  const CliResult train = run_cli({"train", "--arch", "mlp", "--hidden", "4", "--data", "csv:" + iris,
                                   "--epochs", "2", "--lr", "0.01", "-o", dir_->file("iris.shrk"),
                                   "--report", "-"});
  ASSERT_EQ(train.exit_code, 0) << train.err;
  const auto report = nlohmann::json::parse(train.out);
  EXPECT_NE(train.out.find("\"lr\": 0.01,"), std::string::npos) << "float noise in:\n" << train.out;
  EXPECT_EQ(train.out.find("0.009999"), std::string::npos) << train.out;
  EXPECT_EQ(report["epochs"][0]["epoch"], 1);
  EXPECT_EQ(report["epochs"][1]["epoch"], 2);
  // One CSV file serves both splits: the accuracy is not called a test accuracy.
  EXPECT_EQ(report["test_is_training_data"], true);
  EXPECT_NE(train.err.find("training-data accuracy"), std::string::npos) << train.err;
  EXPECT_NE(train.err.find("no test split"), std::string::npos) << train.err;
}

TEST_F(CliErrors, SizeChangesReadAsRatiosOrLarger) {
  const std::regex wording(R"(\((\d+\.\d\dx (smaller|larger)|\d+\.\d% (smaller|larger)|the same size)\))");
  const CliResult pruned = run_cli({"compress", model_, "--prune", "magnitude:0.9", "--data", csv_,
                                    "-o", dir_->file("p.shrk"), "-q"});
  ASSERT_EQ(pruned.exit_code, 0) << pruned.err;
  std::smatch match;
  ASSERT_TRUE(std::regex_search(pruned.out, match, wording)) << pruned.out;
  EXPECT_NE(match.str().find("x smaller"), std::string::npos) << pruned.out;
  // Pruned weights kept dense in ONNX: the file grows back, and says so.
  const CliResult dense = run_cli({"compress", dir_->file("p.shrk"), "--prune", "magnitude:0.9",
                                   "--data", csv_, "-o", dir_->file("p.onnx"), "-q"});
  ASSERT_EQ(dense.exit_code, 0) << dense.err;
  ASSERT_TRUE(std::regex_search(dense.out, match, wording)) << dense.out;
  EXPECT_NE(match.str().find("x larger"), std::string::npos) << dense.out;
}

// On a terminal the progress bar is cleared when it reaches 100%, so the next log line starts on
// a clean line (`script` gives the command a terminal).
TEST_F(CliErrors, ProgressBarIsClearedAtTheEnd) {
  if (std::system("script --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "no `script` (bsdutils)";
  std::string command = std::string(SHRINK_CLI_PATH) + " compress " + model_ +
                        " --prune magnitude:0.5 --finetune-epochs 1 --batch 2 --data " + csv_ +
                        " -o " + dir_->file("bar.shrk");
  const CliResult r = run_command({"script", "-qfec", command, "/dev/null"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // The bar is drawn while fine-tuning runs and cleared instead of drawn at 100%.
  ASSERT_NE(r.out.find("compress ["), std::string::npos) << "no progress bar drawn:\n" << r.out;
  EXPECT_EQ(r.out.find("100%"), std::string::npos) << "the bar was left at 100%:\n" << r.out;
  std::istringstream lines(r.out);
  int log_lines = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find("accuracy after") == std::string::npos) continue;
    ++log_lines;
    EXPECT_EQ(line.substr(line.rfind('\r') + 1).find('#'), std::string::npos)
        << "the log line lands on the bar: " << line;
  }
  EXPECT_EQ(log_lines, 1) << r.out;
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
