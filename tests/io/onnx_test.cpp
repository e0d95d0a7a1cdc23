// ONNX import and export against fixtures made by scripts/make_onnx_fixtures.py: PyTorch
// exports (MLP, LeNet-5, a residual CNN with BatchNorm) and single-operator graphs whose
// expected outputs PyTorch or NumPy computed independently.
#include "shrink/core/error.hpp"
#include "shrink/io/model_file.hpp"
#include "shrink/io/onnx.hpp"
#include "shrink/io/tensor_file.hpp"
#include "shrink/nn/model.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

namespace shrink {
namespace {

namespace fs = std::filesystem;

fs::path fixtures() { return fs::path(SHRINK_SOURCE_DIR) / "tests" / "fixtures" / "onnx"; }

std::vector<std::string> fixture_names(bool errors) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(fixtures()))
    if (entry.is_directory() && fs::exists(entry.path() / "error.txt") == errors)
      names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  if (a.shape() != b.shape()) return INFINITY;
  float diff = 0;
  for (int64_t i = 0; i < a.numel(); ++i) diff = std::max(diff, std::abs(a[i] - b[i]));
  return diff;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// A fixture's inputs: input.npy, or input_0.npy, input_1.npy... for a graph with several. When
// input_names.txt names them (graph order), they are also given by name when loading, so graph
// inputs that shrink reads as constants (weights given as inputs) take their values.
struct Inputs {
  std::vector<Tensor> tensors;
  std::vector<std::string> names;
  std::map<std::string, Tensor> values() const {
    std::map<std::string, Tensor> v;
    for (size_t k = 0; k < names.size(); ++k) v[names[k]] = tensors[k];
    return v;
  }
  // The tensors of the model's inputs, in its order.
  std::vector<const Tensor*> pointers(const Model& model) const {
    std::vector<const Tensor*> p;
    if (names.empty()) {
      for (const Tensor& t : tensors) p.push_back(&t);
      return p;
    }
    for (const ModelInput& in : model.inputs())
      p.push_back(&tensors[static_cast<size_t>(
          std::find(names.begin(), names.end(), in.name) - names.begin())]);
    return p;
  }
};

Inputs fixture_inputs(const fs::path& dir) {
  Inputs inputs;
  if (fs::exists(dir / "input.npy")) inputs.tensors.push_back(read_npy((dir / "input.npy").string()));
  for (int k = 0; fs::exists(dir / ("input_" + std::to_string(k) + ".npy")); ++k)
    inputs.tensors.push_back(read_npy((dir / ("input_" + std::to_string(k) + ".npy")).string()));
  std::ifstream names(dir / "input_names.txt");
  for (std::string name; std::getline(names, name);)
    if (!name.empty()) inputs.names.push_back(name);
  EXPECT_FALSE(inputs.tensors.empty()) << dir;
  EXPECT_TRUE(inputs.names.empty() || inputs.names.size() == inputs.tensors.size()) << dir;
  return inputs;
}

std::string model_path(const std::string& name) { return (fixtures() / name / "model.onnx").string(); }

class OnnxFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(OnnxFixture, MatchesTheReferenceOutput) {
  const fs::path dir = fixtures() / GetParam();
  const Inputs x = fixture_inputs(dir);
  Model model = load_onnx((dir / "model.onnx").string(), x.values());
  if (x.names.empty()) ASSERT_EQ(model.inputs().size(), x.tensors.size());
  const Tensor expected = read_npy((dir / "output.npy").string());
  const Tensor& y = model.forward(x.pointers(model));
  EXPECT_LE(max_abs_diff(y, expected), 1e-4f);
}

TEST_P(OnnxFixture, ExportPassesTheCheckerAndRoundTrips) {
  const fs::path dir = fixtures() / GetParam();
  const Inputs x = fixture_inputs(dir);
  Model model = load_onnx((dir / "model.onnx").string(), x.values());
  testing::TempDir tmp;
  const std::string path = tmp.file("exported.onnx");
  save_onnx(model, path);
  EXPECT_NO_THROW(check_onnx_file(path));
  Model again = load_onnx(path);
  ASSERT_EQ(again.nodes().size(), model.nodes().size());
  for (size_t i = 0; i < model.nodes().size(); ++i) {
    EXPECT_EQ(again.nodes()[i].name, model.nodes()[i].name);
    EXPECT_EQ(again.nodes()[i].op->type(), model.nodes()[i].op->type());
    EXPECT_EQ(again.nodes()[i].op->attributes(), model.nodes()[i].op->attributes());
  }
  for (const Parameter* p : model.parameters())
    EXPECT_EQ(again.parameter(p->name).value, p->value) << p->name;
  const Tensor a = model.forward(x.pointers(model));
  const Tensor& b = again.forward(x.pointers(again));
  EXPECT_EQ(a, b);
  EXPECT_EQ(again.metadata["producer"], std::string("shrink 0.1.0"));
  EXPECT_EQ(again.inputs(), model.inputs());
  EXPECT_EQ(again.metadata["onnx"]["output"], model.metadata["onnx"]["output"]);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, OnnxFixture, ::testing::ValuesIn(fixture_names(false)),
                         [](const auto& info) { return info.param; });

class OnnxErrorFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(OnnxErrorFixture, FailsWithAMessageNamingTheCulprit) {
  const fs::path dir = fixtures() / GetParam();
  const std::string expected = read_text(dir / "error.txt");
  try {
    load_onnx((dir / "model.onnx").string());
    FAIL() << "loading " << GetParam() << " did not fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::BadInput);
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos)
        << "message: " << e.what() << "\nexpected to contain: " << expected;
    EXPECT_NE(std::string(e.what()).find("model.onnx"), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, OnnxErrorFixture, ::testing::ValuesIn(fixture_names(true)),
                         [](const auto& info) { return info.param; });

TEST(OnnxImport, FixturesCoverEveryKind) {
  EXPECT_GE(fixture_names(false).size(), 30u);
  EXPECT_GE(fixture_names(true).size(), 3u);
}

TEST(OnnxImport, KeepsPyTorchNamesAndRecordsMetadata) {
  const Model model = load_onnx(model_path("lenet5"));
  EXPECT_EQ(model.input_name(), "input");
  EXPECT_EQ(model.input_shape(), (Shape{1, 28, 28}));
  EXPECT_EQ(model.output_shape(), (Shape{10}));
  for (const char* name : {"conv1.weight", "conv1.bias", "conv2.weight", "fc1.weight", "fc2.bias"})
    EXPECT_NE(model.find_parameter(name), nullptr) << name;
  EXPECT_EQ(model.parameter("fc1.weight").value.shape(), (Shape{500, 800}));
  EXPECT_EQ(model.metadata["source"], "onnx");
  EXPECT_EQ(model.metadata["opset"], 13);
  EXPECT_NE(model.metadata["producer"].get<std::string>().find("pytorch"), std::string::npos);
  EXPECT_EQ(model.metadata["onnx"]["output"], "output");
  EXPECT_NEAR(model.metadata["normalization"]["scale"].get<double>(), 1.0 / 255.0, 1e-12);
  EXPECT_EQ(model.metadata["normalization"]["mean"], nlohmann::json::array({0.0}));
  // The Shape -> Gather -> Unsqueeze -> Concat -> Reshape chain folds into one Flatten.
  int flattens = 0;
  for (const Node& node : model.nodes()) {
    EXPECT_NE(node.op->type(), "Reshape");
    flattens += node.op->type() == "Flatten";
  }
  EXPECT_EQ(flattens, 1);
}

TEST(OnnxImport, BatchSizeStaysSymbolic) {
  Model model = load_onnx(model_path("small_resnet"));
  const Tensor x = read_npy((fixtures() / "small_resnet" / "input.npy").string());
  const Tensor expected = read_npy((fixtures() / "small_resnet" / "output.npy").string());
  Tensor first({1, 1, 16, 16});
  std::copy(x.begin(), x.begin() + first.numel(), first.begin());
  const Tensor& y = model.forward(first);
  ASSERT_EQ(y.shape(), (Shape{1, 10}));
  for (int64_t j = 0; j < 10; ++j) EXPECT_NEAR(y[j], expected[j], 1e-4f);
}

TEST(OnnxImport, FusesAndFoldsWhatPyTorchSplits) {
  const Model matmul = load_onnx(model_path("matmul_add"));
  ASSERT_EQ(matmul.nodes().size(), 1u);
  EXPECT_EQ(matmul.nodes()[0].op->type(), "Linear");
  EXPECT_EQ(matmul.nodes()[0].op->attributes()["bias"], true);

  // AvgPool2d(count_include_pad=True) is exported as Pad + AveragePool.
  const Model resnet = load_onnx(model_path("small_resnet"));
  bool found = false;
  for (const Node& node : resnet.nodes())
    if (node.op->type() == "AvgPool2d") {
      found = true;
      EXPECT_EQ(node.op->attributes()["padding"], nlohmann::json::array({1, 1}));
      EXPECT_EQ(node.op->attributes()["count_include_pad"], true);
    }
  EXPECT_TRUE(found);
  EXPECT_EQ(resnet.parameter("bn1.running_var").trainable, false);
  EXPECT_NEAR(resnet.nodes()[1].op->attributes()["momentum"].get<double>(), 0.1, 1e-6);

  const Model folded = load_onnx(model_path("constant_folding_opset17"));
  ASSERT_EQ(folded.nodes().size(), 1u);
  EXPECT_EQ(folded.nodes()[0].op->type(), "Mul");
}

// A graph with several inputs imports as a model with the same inputs in graph order, and keeps
// them through a .shrk file and an ONNX export.
TEST(OnnxImport, GraphsWithSeveralInputsKeepThemInOrder) {
  const fs::path dir = fixtures() / "two_inputs_concat_conv";
  Model model = load_onnx((dir / "model.onnx").string());
  ASSERT_EQ(model.inputs().size(), 2u);
  EXPECT_EQ(model.inputs()[0], (ModelInput{"x", {2, 5, 5}}));
  EXPECT_EQ(model.inputs()[1], (ModelInput{"z", {1, 5, 5}}));
  EXPECT_FALSE(model.metadata.contains("normalization"));  // no single image input to describe
  testing::TempDir tmp;
  write_model(model, tmp.file("two.shrk"));
  Model again = read_model(tmp.file("two.shrk"));
  EXPECT_EQ(again.inputs(), model.inputs());
  const Inputs x = fixture_inputs(dir);
  const Tensor a = model.forward(x.pointers(model));
  EXPECT_EQ(again.forward(x.pointers(again)), a);
}

// Graph inputs read as constants: a weight given as an input (Conv's W, whose leading size
// happens to equal the batch's) and an operand of another leading size (s) become constants of
// the model, listed in its metadata; without their values the model does not load, and the
// message says how to give them.
TEST(OnnxImport, InputsThatCannotShareTheBatchAreReadAsConstants) {
  const fs::path dir = fixtures() / "inputs_read_as_constants";
  const Inputs x = fixture_inputs(dir);
  const Model model = load_onnx((dir / "model.onnx").string(), x.values());
  ASSERT_EQ(model.inputs().size(), 1u);
  EXPECT_EQ(model.inputs()[0].name, "x");
  EXPECT_EQ(model.metadata["onnx"]["constant_inputs"], nlohmann::json::array({"W", "s"}));
  std::map<std::string, Tensor> without_w = x.values();
  without_w.erase("W");
  try {
    load_onnx((dir / "model.onnx").string(), without_w);
    FAIL() << "loaded without W";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'W' is a graph input"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--input W=FILE"), std::string::npos) << e.what();
  }
  std::map<std::string, Tensor> wrong = x.values();
  wrong["s"] = Tensor({4});
  try {
    load_onnx((dir / "model.onnx").string(), wrong);
    FAIL() << "loaded with s of the wrong shape";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'s' is declared [3]"), std::string::npos) << e.what();
  }
}

TEST(OnnxImport, RejectsBytesThatAreNotAModel) {
  try {
    load_onnx_bytes("definitely not protobuf \xff\xff", "junk.onnx");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::BadInput);
    EXPECT_NE(std::string(e.what()).find("junk.onnx"), std::string::npos);
  }
  EXPECT_THROW(load_onnx("/nonexistent/model.onnx"), Error);
}

TEST(OnnxExport, PrunedWeightsAreDenseWithZeros) {
  Model model = load_onnx(model_path("mlp"));
  Parameter& w = model.parameter("fc1.weight");
  w.mask = Tensor(w.value.shape(), 1.0f);
  for (int64_t i = 0; i < w.mask.numel(); i += 2) w.mask[i] = 0.0f;
  testing::TempDir tmp;
  save_onnx(model, tmp.file("pruned.onnx"));
  const Model again = load_onnx(tmp.file("pruned.onnx"));
  const Tensor& v = again.parameter("fc1.weight").value;
  ASSERT_EQ(v.shape(), w.value.shape());
  for (int64_t i = 0; i < v.numel(); ++i) EXPECT_EQ(v[i], i % 2 == 0 ? 0.0f : w.value[i]);
}

TEST(OnnxExport, WritesEveryCoreOpAndKeepsMetadata) {
  Model model = Model::from_graph_json(nlohmann::json::parse(R"({
    "input": {"name": "pixels", "shape": [2, 6, 6]},
    "nodes": [
      {"name": "conv", "type": "Conv2d", "attributes": {"out_channels": 4, "kernel_size": 3, "padding": 1}},
      {"name": "bn", "type": "BatchNorm2d"},
      {"name": "act", "type": "Hardswish"},
      {"name": "skip", "type": "Add", "inputs": ["act", "conv"]},
      {"name": "pool", "type": "AvgPool2d", "attributes": {"kernel_size": 2, "count_include_pad": false}},
      {"name": "flat", "type": "Flatten", "attributes": {"start_dim": 2}},
      {"name": "flat2", "type": "Flatten"},
      {"name": "drop", "type": "Dropout", "attributes": {"p": 0.25}},
      {"name": "fc", "type": "Linear", "attributes": {"out_features": 5}},
      {"name": "clip", "type": "Clip", "attributes": {"max": 0.5}},
      {"name": "soft", "type": "Softmax", "attributes": {"dim": 1}}
    ]})"));
  model.initialize(3);
  model.parameter("bn.running_mean").value.fill(0.1f);
  model.parameter("bn.running_var").value.fill(2.0f);
  model.metadata["normalization"] = {{"scale", 1.0}, {"mean", {0.5}}, {"std", {0.25}}};
  testing::TempDir tmp;
  save_onnx(model, tmp.file("all.onnx"));
  EXPECT_NO_THROW(check_onnx_file(tmp.file("all.onnx")));
  Model again = load_onnx(tmp.file("all.onnx"));
  EXPECT_EQ(again.metadata["normalization"], model.metadata["normalization"]);
  EXPECT_EQ(again.metadata["opset"], 14);  // Hardswish needs opset 14
  Tensor x({3, 2, 6, 6});
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = std::sin(0.37f * static_cast<float>(i));
  const Tensor a = model.forward(x);
  EXPECT_LE(max_abs_diff(again.forward(x), a), 1e-6f);
}

// Pools with the forms ONNX has and PyTorch's padding lacks (asymmetric pads, ceil_mode, MaxPool
// dilation) go out as MaxPool/AveragePool attributes and come back as the same ops.
TEST(OnnxExport, PoolWindowsRoundTrip) {
  Model model = Model::from_graph_json(nlohmann::json::parse(R"({
    "input": {"name": "x", "shape": [2, 9, 8]},
    "nodes": [
      {"name": "max", "type": "MaxPool2d", "attributes": {"kernel_size": [3, 2], "stride": [2, 1],
       "padding": [2, 0], "padding_end": [1, 1], "dilation": [1, 2], "ceil_mode": true}},
      {"name": "avg", "type": "AvgPool2d", "attributes": {"kernel_size": 2, "stride": 2,
       "padding": [1, 0], "padding_end": [0, 1], "ceil_mode": true, "count_include_pad": true}}
    ]})"));
  testing::TempDir tmp;
  save_onnx(model, tmp.file("pools.onnx"));
  EXPECT_NO_THROW(check_onnx_file(tmp.file("pools.onnx")));
  Model again = load_onnx(tmp.file("pools.onnx"));
  ASSERT_EQ(again.nodes().size(), model.nodes().size());
  for (size_t i = 0; i < model.nodes().size(); ++i)
    EXPECT_EQ(again.nodes()[i].op->attributes(), model.nodes()[i].op->attributes());
  Tensor x({3, 2, 9, 8});
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = std::sin(0.37f * static_cast<float>(i));
  const Tensor a = model.forward(x);
  EXPECT_EQ(again.forward(x), a);
}

TEST(OnnxModelFile, ReadAndWriteDispatchOnTheExtension) {
  const Model model = read_model(model_path("mlp"));
  testing::TempDir tmp;
  write_model(model, tmp.file("copy.onnx"));
  EXPECT_NO_THROW(check_onnx_file(tmp.file("copy.onnx")));
  EXPECT_EQ(read_model(tmp.file("copy.onnx")).parameter_count(), model.parameter_count());
}

}  // namespace
}  // namespace shrink
