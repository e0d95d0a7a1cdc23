// QDQ ONNX files made by another tool (tests/fixtures/onnx_qdq: ONNX Runtime's quantize_static
// layout, written by scripts/make_qdq_fixtures.py): their int8 weights import as quant.int8's
// weight state (8-bit symmetric affine, per channel or per tensor) holding the file's codes and
// scales, the int8 lowering takes every layer, the lowered model computes what ONNX Runtime
// computes on the same file (up to the requantization rounding the QDQ export test allows), and
// .shrk and the QDQ export keep the codes bit-exact. Weights the int8 kernels cannot take keep
// their fp32 values and the import names them with the reason.
// The ONNX Runtime comparisons need Node.js and onnxruntime-node (bash scripts/install-deps.sh
// --onnxruntime) and skip without them.
#include "shrink/io/container.hpp"
#include "shrink/io/onnx.hpp"
#include "shrink/io/tensor_file.hpp"
#include "shrink/nn/affine_quantizer.hpp"
#include "shrink/nn/fused_execution.hpp"
#include "shrink/nn/int8_execution.hpp"
#include "support/cli.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace shrink {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

const fs::path kSourceDir = SHRINK_SOURCE_DIR;

fs::path fixture(const std::string& name) { return kSourceDir / "tests" / "fixtures" / "onnx_qdq" / name; }

onnx::ModelProto read_proto(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  onnx::ModelProto proto;
  EXPECT_TRUE(proto.ParseFromIstream(&in)) << path;
  return proto;
}

onnx::TensorProto* initializer(onnx::ModelProto& proto, const std::string& name) {
  for (auto& t : *proto.mutable_graph()->mutable_initializer())
    if (t.name() == name) return &t;
  ADD_FAILURE() << "no initializer " << name;
  return nullptr;
}

// An int8 or float initializer's raw bytes (the fixtures and shrink's export write raw_data).
std::string raw(onnx::ModelProto& proto, const std::string& name) {
  const onnx::TensorProto* t = initializer(proto, name);
  return t ? t->raw_data() : std::string();
}

// Empty when ONNX Runtime can run here, else why not.
const std::string& onnx_runtime_missing() {
  static const std::string reason = [] {
    if (testing::run_command({"node", "--version"}).exit_code != 0) return std::string("Node.js is not on PATH");
    if (!fs::exists(kSourceDir / "bench" / "node_modules" / "onnxruntime-node"))
      return std::string("onnxruntime-node is not in bench/node_modules (bash scripts/install-deps.sh --onnxruntime)");
    return std::string();
  }();
  return reason;
}

Tensor onnx_runtime_output(const fs::path& model, const fs::path& input, const testing::TempDir& tmp) {
  const std::string out = tmp.file("ort.npy");
  const testing::CliResult r = testing::run_command(
      {"node", (kSourceDir / "bench" / "ort_run.mjs").string(), model.string(), input.string(), out, "--threads", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? read_npy(out) : Tensor();
}

Model import_bytes_for_test(const onnx::ModelProto& proto) {
  return load_onnx_bytes(proto.SerializeAsString(), "edited.onnx", ".");
}

const AffineQuantizer* affine_of(const Parameter& p) { return dynamic_cast<const AffineQuantizer*>(p.quantizer()); }

struct QdqCase {
  std::string name;
  bool per_channel;
  size_t layers;  // Conv/Gemm layers, each lowered onto the int8 kernels
};

void PrintTo(const QdqCase& c, std::ostream* out) { *out << c.name; }

class QdqImport : public ::testing::TestWithParam<QdqCase> {};

TEST_P(QdqImport, KeepsTheFilesInt8CodesAsQuantizedWeights) {
  const QdqCase& c = GetParam();
  const Model model = load_onnx((fixture(c.name) / "model.onnx").string());
  onnx::ModelProto proto = read_proto(fixture(c.name) / "model.onnx");
  EXPECT_FALSE(model.metadata["onnx"].contains("fp32_weights")) << model.metadata.dump();
  size_t weights = 0;
  for (const Parameter* p : model.parameters()) {
    if (!p->name.ends_with(".weight")) {
      EXPECT_FALSE(p->quantized()) << p->name;  // biases stay fp32
      continue;
    }
    ++weights;
    const AffineQuantizer* affine = affine_of(*p);
    ASSERT_NE(affine, nullptr) << p->name;
    EXPECT_EQ(affine->bits(), 8);
    EXPECT_TRUE(affine->symmetric());
    EXPECT_EQ(affine->per_channel(), c.per_channel) << p->name;
    // The codes and scales are the file's, bit for bit.
    const std::string codes = raw(proto, p->name + "_quantized");
    const std::string scales = raw(proto, p->name + "_scale");
    ASSERT_EQ(static_cast<int64_t>(codes.size()), p->value.numel());
    ASSERT_EQ(static_cast<int64_t>(scales.size()), 4 * affine->channels());
    const int64_t per = p->value.numel() / affine->channels();
    for (int64_t ch = 0; ch < affine->channels(); ++ch) {
      float scale;
      std::memcpy(&scale, scales.data() + 4 * ch, 4);
      EXPECT_EQ(affine->params(ch).scale, scale);
      for (int64_t i = ch * per; i < (ch + 1) * per; ++i)
        ASSERT_EQ(std::nearbyint(p->effective()[i] / scale), static_cast<float>(static_cast<int8_t>(codes[static_cast<size_t>(i)])))
            << p->name << " element " << i;
    }
  }
  EXPECT_EQ(weights, c.layers);
  EXPECT_EQ(plan_int8_execution(model).size(), c.layers);
}

TEST_P(QdqImport, ShrkAndOnnxExportKeepTheCodesBitExact) {
  const QdqCase& c = GetParam();
  testing::TempDir tmp;
  const Model imported = load_onnx((fixture(c.name) / "model.onnx").string());
  save_model(imported, tmp.file("model.shrk"));
  const Model reloaded = load_model_shrk(tmp.file("model.shrk"));
  save_onnx(reloaded, tmp.file("exported.onnx"));
  onnx::ModelProto source = read_proto(fixture(c.name) / "model.onnx");
  onnx::ModelProto exported = read_proto(tmp.file("exported.onnx"));
  for (const Parameter* p : reloaded.parameters()) {
    if (!p->name.ends_with(".weight")) continue;
    EXPECT_EQ(raw(exported, p->name + ".quantized"), raw(source, p->name + "_quantized")) << p->name;
    EXPECT_EQ(raw(exported, p->name + ".scale"), raw(source, p->name + "_scale")) << p->name;
  }
  // The .shrk stores the weights as 8-bit codes: about a quarter of the fp32 tensors, plus the
  // graph and metadata (a few KiB, most of the small MLP's file).
  int64_t fp32_bytes = 0;
  for (const Parameter* p : imported.parameters()) fp32_bytes += 4 * p->value.numel();
  EXPECT_LT(static_cast<double>(fs::file_size(tmp.file("model.shrk"))), 0.27 * static_cast<double>(fp32_bytes) + 4096.0);
}

TEST_P(QdqImport, RunsOnTheInt8KernelsLikeOnnxRuntime) {
  if (!onnx_runtime_missing().empty()) GTEST_SKIP() << onnx_runtime_missing();
  const QdqCase& c = GetParam();
  testing::TempDir tmp;
  const Model model = load_onnx((fixture(c.name) / "model.onnx").string());
  const Tensor input = read_npy((fixture(c.name) / "input.npy").string());
  std::optional<Model> lowered = inference_model(model);
  ASSERT_TRUE(lowered.has_value());
  ASSERT_EQ(plan_int8_execution(model).size(), c.layers);
  const Tensor actual = lowered->forward(input, false);
  const Tensor expected = onnx_runtime_output(fixture(c.name) / "model.onnx", fixture(c.name) / "input.npy", tmp);
  ASSERT_EQ(actual.shape(), expected.shape());
  float diff = 0, scale = 0;
  for (int64_t i = 0; i < expected.numel(); ++i) {
    diff = std::max(diff, std::abs(actual[i] - expected[i]));
    scale = std::max(scale, std::abs(expected[i]));
  }
  std::printf("[ ORT      ] %s: max |shrink int8 - onnxruntime| = %.3g (outputs up to %.3g)\n", c.name.c_str(),
              diff, scale);
  // The bound of the QDQ export's ONNX Runtime test (tests/io/onnx_runtime_roundtrip_test.cpp).
  EXPECT_LE(diff, 0.02f * scale);
  EXPECT_GT(scale, 0.0f);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, QdqImport,
                         ::testing::Values(QdqCase{"mlp_per_channel", true, 3}, QdqCase{"mlp_reduce_range", true, 3},
                                           QdqCase{"lenet5_per_channel", true, 4},
                                           QdqCase{"lenet5_per_tensor", false, 4}),
                         [](const auto& info) { return info.param.name; });

// PyTorch's QDQ exports (and quantize_static with QuantizeLinear kept on weights) store the fp32
// weight and quantize it in the graph: QuantizeLinear -> DequantizeLinear of a constant gives the
// same codes as the int8 initializer.
TEST(QdqImportWeights, QuantizeLinearOfAnFp32WeightGivesTheSameCodes) {
  onnx::ModelProto proto = read_proto(fixture("mlp_per_channel") / "model.onnx");
  const Model expected = import_bytes_for_test(proto);
  const onnx::ModelProto fp32 = read_proto(kSourceDir / "tests" / "fixtures" / "onnx" / "mlp" / "model.onnx");
  onnx::TensorProto* codes = initializer(proto, "fc1.weight_quantized");
  ASSERT_NE(codes, nullptr);
  for (const auto& t : fp32.graph().initializer())
    if (t.name() == "fc1.weight") *codes = t;  // the fp32 weight, named "fc1.weight"
  onnx::NodeProto quantize;
  quantize.set_op_type("QuantizeLinear");
  quantize.set_name("fc1.weight_QuantizeLinear");
  for (const char* in : {"fc1.weight", "fc1.weight_scale", "fc1.weight_zero_point"}) quantize.add_input(in);
  quantize.add_output("fc1.weight_quantized");
  auto* axis = quantize.add_attribute();
  axis->set_name("axis");
  axis->set_type(onnx::AttributeProto_AttributeType_INT);
  axis->set_i(0);
  auto* nodes = proto.mutable_graph()->mutable_node();
  *nodes->Add() = quantize;
  std::rotate(nodes->rbegin(), nodes->rbegin() + 1, nodes->rend());  // first, before its reader
  const Model model = import_bytes_for_test(proto);
  const Parameter& w = model.parameter("fc1.weight");
  ASSERT_NE(affine_of(w), nullptr);
  EXPECT_TRUE(affine_of(w)->per_channel());
  const Parameter& from_codes = expected.parameter("fc1.weight");
  for (int64_t i = 0; i < w.value.numel(); ++i) ASSERT_EQ(w.effective()[i], from_codes.effective()[i]) << i;
  EXPECT_EQ(plan_int8_execution(model).size(), 3u);
}

// ONNX Runtime's reduce_range weights (codes -64..64) import as 8-bit weights; without VNNI
// (SHRINK_ISA=avx2) the int8 kernels run them in one pass, where codes up to 127 split in two.
TEST(QdqImportWeights, ReduceRangeWeightsRunInOnePassWithoutVnni) {
  testing::TempDir tmp;
  for (const std::string name : {"mlp_reduce_range", "mlp_per_channel"}) {
    const testing::CliResult r = testing::run_command({"env", "SHRINK_ISA=avx2", SHRINK_CLI_PATH, "inspect",
                                                       (fixture(name) / "model.onnx").string(), "--report",
                                                       tmp.file(name + ".json")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const Json layers = testing::read_json(tmp.file(name + ".json"))["int8"]["layers"];
    ASSERT_EQ(layers.size(), 3u);
    for (const Json& layer : layers) EXPECT_EQ(layer["split_weights"], name == "mlp_per_channel") << name;
  }
}

// --- what the int8 kernels cannot take keeps today's fp32 values -------------------------------

std::vector<std::string> fp32_weights(const Model& model) {
  std::vector<std::string> lines;
  if (model.metadata["onnx"].contains("fp32_weights"))
    for (const Json& line : model.metadata["onnx"]["fp32_weights"]) lines.push_back(line.get<std::string>());
  return lines;
}


TEST(QdqImportFallback, Uint8WeightsStayFp32AndTheImportSaysWhy) {
  const Model model = load_onnx((fixture("mlp_uint8_weights") / "model.onnx").string());
  const std::vector<std::string> lines = fp32_weights(model);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "fc1.weight (ONNX fc1.weight_DequantizeLinear_Output) kept in fp32: its codes are UINT8, "
                      "not int8 (the int8 kernels take symmetric int8 weights)");
  for (const Parameter* p : model.parameters()) EXPECT_FALSE(p->quantized()) << p->name;
  EXPECT_TRUE(plan_int8_execution(model).empty());
}

TEST(QdqImportFallback, Uint8WeightsRunTheQdqGraphLikeOnnxRuntime) {
  if (!onnx_runtime_missing().empty()) GTEST_SKIP() << onnx_runtime_missing();
  testing::TempDir tmp;
  Model model = load_onnx((fixture("mlp_uint8_weights") / "model.onnx").string());
  const Tensor input = read_npy((fixture("mlp_uint8_weights") / "input.npy").string());
  const Tensor actual = model.forward(input, false);
  const Tensor expected =
      onnx_runtime_output(fixture("mlp_uint8_weights") / "model.onnx", fixture("mlp_uint8_weights") / "input.npy", tmp);
  ASSERT_EQ(actual.shape(), expected.shape());
  float diff = 0, scale = 0;
  for (int64_t i = 0; i < expected.numel(); ++i) {
    diff = std::max(diff, std::abs(actual[i] - expected[i]));
    scale = std::max(scale, std::abs(expected[i]));
  }
  EXPECT_LE(diff, 0.02f * scale);
}

TEST(QdqImportFallback, NonZeroZeroPointStaysFp32) {
  onnx::ModelProto proto = read_proto(fixture("mlp_per_channel") / "model.onnx");
  onnx::TensorProto* zero = initializer(proto, "fc2.weight_zero_point");
  ASSERT_NE(zero, nullptr);
  std::string bytes = zero->raw_data();
  bytes[3] = 2;
  zero->set_raw_data(bytes);
  const Model model = import_bytes_for_test(proto);
  const std::vector<std::string> lines = fp32_weights(model);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("fc2.weight"), std::string::npos);
  EXPECT_NE(lines[0].find("its zero point is 2, not 0"), std::string::npos) << lines[0];
  EXPECT_FALSE(model.parameter("fc2.weight").quantized());
  EXPECT_TRUE(model.parameter("fc1.weight").quantized());
  EXPECT_TRUE(model.parameter("fc3.weight").quantized());
  // fc2 keeps the QDQ graph in fp32; the layers around it still run in int8.
  EXPECT_EQ(plan_int8_execution(model).size(), 2u);
}

TEST(QdqImportFallback, CodeMinus128StaysFp32) {
  onnx::ModelProto proto = read_proto(fixture("mlp_per_channel") / "model.onnx");
  onnx::TensorProto* codes = initializer(proto, "fc3.weight_quantized");
  ASSERT_NE(codes, nullptr);
  std::string bytes = codes->raw_data();
  bytes[5] = static_cast<char>(0x80);
  codes->set_raw_data(bytes);
  const std::vector<std::string> lines = fp32_weights(import_bytes_for_test(proto));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("fc3.weight (ONNX fc3.weight_DequantizeLinear_Output) kept in fp32: it holds code -128"),
            std::string::npos)
      << lines[0];
}

TEST(QdqImportFallback, ScalesAlongTheInputAxisStayFp32) {
  // fc3's B is [10, 16] read with transB=1: its output channels are axis 0. Scales along axis 1
  // (one per input feature) are no per-output-channel weight.
  onnx::ModelProto proto = read_proto(fixture("mlp_per_channel") / "model.onnx");
  for (const std::string name : {"fc3.weight_scale", "fc3.weight_zero_point"}) {
    onnx::TensorProto* t = initializer(proto, name);
    ASSERT_NE(t, nullptr);
    const size_t element = t->data_type() == onnx::TensorProto_DataType_FLOAT ? 4 : 1;
    t->set_raw_data(t->raw_data().substr(0, element) + std::string(15 * element, '\0'));
    if (element == 4)
      for (int k = 1; k < 16; ++k) t->mutable_raw_data()->replace(4 * k, 4, t->raw_data().substr(0, 4));
    t->set_dims(0, 16);
  }
  for (auto& node : *proto.mutable_graph()->mutable_node())
    if (node.name() == "fc3.weight_DequantizeLinear") node.mutable_attribute(0)->set_i(1);
  const Model model = import_bytes_for_test(proto);
  const std::vector<std::string> lines = fp32_weights(model);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("its scales are per index along axis 1, not along the output channels (axis 0)"),
            std::string::npos)
      << lines[0];
  EXPECT_FALSE(model.parameter("fc3.weight").quantized());
}

// --- the CLI ------------------------------------------------------------------------------------

TEST(QdqImportCli, InspectShowsTheInt8WeightsAndEvalAndRunUseTheInt8Layers) {
  const std::string model = (fixture("lenet5_per_channel") / "model.onnx").string();
  const testing::CliResult inspect = testing::run_cli({"inspect", model});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_NE(inspect.out.find("affine:8"), std::string::npos) << inspect.out;
  EXPECT_NE(inspect.out.find("int8 execution"), std::string::npos) << inspect.out;
  EXPECT_EQ(inspect.err.find("kept in fp32"), std::string::npos) << inspect.err;

  testing::TempDir tmp;
  const std::string input = (fixture("lenet5_per_channel") / "input.npy").string();
  const testing::CliResult run =
      testing::run_cli({"run", model, "--input", input, "-o", tmp.file("out"), "--report", tmp.file("run.json")});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(testing::read_json(tmp.file("run.json"))["int8_layers"], 4);
  fs::create_directories(tmp.file("fashion"));
  if (testing::write_fashion_mnist_subset(tmp.file("fashion"), 16, 64)) {
    const testing::CliResult eval =
        testing::run_cli({"eval", model, "--data", "fashion-mnist:" + tmp.file("fashion"), "--report", tmp.file("eval.json")});
    ASSERT_EQ(eval.exit_code, 0) << eval.err;
    EXPECT_EQ(testing::read_json(tmp.file("eval.json"))["int8_layers"], 4);
    EXPECT_NE(eval.out.find("int8: 4 layers on oneDNN"), std::string::npos) << eval.out;
  }

  const testing::CliResult uint8 = testing::run_cli({"inspect", (fixture("mlp_uint8_weights") / "model.onnx").string()});
  ASSERT_EQ(uint8.exit_code, 0) << uint8.err;
  EXPECT_NE(uint8.err.find("warning: fc1.weight (ONNX fc1.weight_DequantizeLinear_Output) kept in fp32: its codes are "
                           "UINT8"),
            std::string::npos)
      << uint8.err;
}

}  // namespace
}  // namespace shrink
