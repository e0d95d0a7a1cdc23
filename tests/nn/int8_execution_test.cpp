// Int8 execution of QDQ graphs (nn/int8_execution.hpp): each lowered pattern against the
// fake-quantized fp32 graph it replaces (within one quantization step of the output), whole
// LeNet-shaped models giving the same predictions, the primitive cache following the weights
// and the batch, the inference-only contract, and the oneDNN paths SHRINK_ISA selects (each
// in its own process, since oneDNN takes its instruction-set cap once).
#include "../../src/nn/kernels/isa.hpp"
#include "shrink/compress/pass.hpp"
#include "shrink/data/dataset.hpp"
#include "shrink/nn/architectures.hpp"
#include "shrink/nn/int8_execution.hpp"
#include "shrink/nn/quantizer.hpp"
#include "support/cli.hpp"
#include "support/errors.hpp"
#include "support/toy_images.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace shrink {
namespace {

using Json = nlohmann::json;

Json codes(float scale, int zero_point, bool is_signed) {
  return {{"scale", scale}, {"zero_point", zero_point}, {"type", is_signed ? "int8" : "uint8"}};
}

struct Pattern {
  std::string name;
  std::string layer = "Linear";  // or "MatMul", "Conv2d"
  Json input = codes(0.02f, 60, false);
  bool bias = true;
  bool relu = true;
  Json output;  // the QuantizeLinear after the layer, or null: fp32 out
  Json convolution = Json::object();  // Conv2d's stride, padding, dilation
  bool pool = false;  // a MaxPool2d and a Flatten before the output QuantizeLinear
  Json pool_attributes = {{"kernel_size", 2}};
  int weight_bits = 8;  // 7: quant.int8's reduce_range (codes -63..63, one pass without VNNI)
};

void PrintTo(const Pattern& p, std::ostream* os) { *os << p.name; }

// x -> QuantizeLinear -> DequantizeLinear -> layer (7 outputs, 8-bit symmetric weight)
// [-> ReLU] [-> MaxPool2d -> Flatten] [-> QuantizeLinear -> DequantizeLinear]: the output is the
// last node. x is [12], or [3, 10, 10] for Conv2d (3x3 kernels).
Shape sample_of(const Pattern& p) { return p.layer == "Conv2d" ? Shape{3, 10, 10} : Shape{12}; }

Model pattern_model(const Pattern& p) {
  Json layer = {{"name", "fc"}, {"type", p.layer}};
  if (p.layer == "Linear") layer["attributes"] = {{"out_features", 7}, {"bias", p.bias}};
  if (p.layer == "MatMul") layer["attributes"] = {{"in_features", 12}, {"out_features", 7}};
  if (p.layer == "Conv2d") {
    layer["attributes"] = p.convolution;
    layer["attributes"].update({{"out_channels", 7}, {"kernel_size", 3}, {"bias", p.bias}});
  }
  Json nodes = {{{"name", "q"}, {"type", "QuantizeLinear"}, {"attributes", p.input}},
                {{"name", "dq"}, {"type", "DequantizeLinear"}, {"attributes", p.input}},
                layer};
  if (p.relu) nodes.push_back({{"name", "relu"}, {"type", "ReLU"}});
  if (p.pool) {
    nodes.push_back({{"name", "pool"}, {"type", "MaxPool2d"}, {"attributes", p.pool_attributes}});
    nodes.push_back({{"name", "flatten"}, {"type", "Flatten"}});
  }
  if (!p.output.is_null()) {
    nodes.push_back({{"name", "q2"}, {"type", "QuantizeLinear"}, {"attributes", p.output}});
    nodes.push_back({{"name", "dq2"}, {"type", "DequantizeLinear"}, {"attributes", p.output}});
  }
  Model model = Model::from_graph_json({{"input", {{"name", "x"}, {"shape", sample_of(p)}}}, {"nodes", nodes}});
  model.initialize(7);
  Parameter& weight = model.parameter("fc.weight");
  weight.set_quantizer(make_quantizer(
      "affine", {{"bits", p.weight_bits}, {"symmetric", true}, {"per_channel", p.layer != "MatMul"}},
      weight.value));
  return model;
}

Tensor uniform_batch(int64_t n, const Shape& sample, float lo, float hi, uint64_t seed) {
  Shape shape{n};
  shape.insert(shape.end(), sample.begin(), sample.end());
  Tensor x(shape);
  Rng rng(seed);
  for (float& v : x) v = rng.uniform(lo, hi);
  return x;
}

// The largest |a - b| over the elements.
float max_difference(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  float d = 0.0f;
  for (int64_t i = 0; i < a.numel(); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

class Int8Patterns : public ::testing::TestWithParam<Pattern> {};

TEST_P(Int8Patterns, MatchTheFakeQuantizedGraphWithinOneStep) {
  const Pattern& p = GetParam();
  Model model = pattern_model(p);
  const std::vector<Int8LayerPlan> plans = plan_int8_execution(model);
  ASSERT_EQ(plans.size(), 1u);
  EXPECT_EQ(plans[0].layer, "fc");
  EXPECT_EQ(plans[0].relu, p.relu ? "relu" : "");
  EXPECT_EQ(plans[0].output, p.output.is_null() ? "" : "q2");
  // 8-bit weights reach codes +-127, which only VNNI multiplies in one pass; 7-bit ones never
  // split. The inputs below reach code 255, so a pass that saturated would show.
  EXPECT_EQ(plans[0].split_weights, p.weight_bits == 8 && !int8_kernels_have_vnni());
  Model lowered = lower_to_int8(model);
  EXPECT_EQ(lowered.node("fc").op->type(), "Int8" + p.layer);
  // The QuantizeLinear fed only this layer: the layer quantizes the model input itself.
  EXPECT_TRUE(plans[0].quantizes_input);
  EXPECT_EQ(lowered.node("fc").inputs, std::vector<std::string>{"x"});
  EXPECT_EQ(lowered.find_node("q"), nullptr);
  EXPECT_EQ(lowered.find_node("dq"), nullptr);
  EXPECT_EQ(lowered.find_node("relu"), nullptr);
  EXPECT_EQ(lowered.find_node("q2"), nullptr);
  if (p.name == "conv_pool_dropping_the_last_row") {
    // 8x8 pooled by 3 with stride 2 leaves the last row out (a negative padding after, which
    // oneDNN cannot take): the MaxPool2d stays a node, run on the codes.
    EXPECT_EQ(plans[0].pool, "");
    EXPECT_EQ(plans[0].through, (std::vector<std::string>{"pool", "flatten"}));
    EXPECT_EQ(lowered.node("pool").inputs, std::vector<std::string>{"fc"}) << "pooling the codes";
  } else if (p.pool && !p.output.is_null()) {
    // oneDNN pools the codes inside the int8 convolution; the Flatten reshapes its codes.
    EXPECT_EQ(plans[0].pool, "pool");
    EXPECT_EQ(plans[0].through, std::vector<std::string>{"flatten"});
    EXPECT_EQ(lowered.find_node("pool"), nullptr);
    EXPECT_EQ(lowered.node("flatten").inputs, std::vector<std::string>{"fc"}) << "flattening the codes";
  }
  // Requantized: the output is the next layer's codes, dequantized by dq2: one step of q2 at
  // most, where the fp32 sum sits on a rounding boundary. fp32 out: only float rounding.
  const float step = p.output.is_null() ? 0.0f : p.output["scale"].get<float>();
  for (int64_t batch : {1, 37, 300}) {
    const Tensor x = uniform_batch(batch, sample_of(p), -1.5f, 4.0f, 11 + static_cast<uint64_t>(batch));
    const Tensor reference = model.forward(x);
    const Tensor& int8 = lowered.forward(x);
    float largest = 0.0f;
    for (float v : reference) largest = std::max(largest, std::fabs(v));
    EXPECT_LE(max_difference(reference, int8), step * 1.0001f + 1e-5f * (1.0f + largest))
        << "batch " << batch;
    if (!p.output.is_null()) {
      int64_t differ = 0;
      for (int64_t i = 0; i < reference.numel(); ++i) differ += reference[i] != int8[i];
      EXPECT_LE(differ, std::max<int64_t>(1, reference.numel() / 100)) << "batch " << batch;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Lowering, Int8Patterns,
    ::testing::Values(
        Pattern{"uint8_with_zero_point_relu_requantized_uint8", "Linear", codes(0.02f, 60, false),
                true, true, codes(0.05f, 0, false)},
        Pattern{"uint8_relu_fp32", "Linear", codes(0.02f, 60, false), true, true, nullptr},
        Pattern{"uint8_no_relu_requantized_with_zero_point", "Linear", codes(0.03f, 40, false),
                true, false, codes(0.04f, 100, false)},
        Pattern{"int8_symmetric_no_bias_requantized_int8", "Linear", codes(0.035f, 0, true), false,
                false, codes(0.05f, 0, true)},
        Pattern{"int8_symmetric_relu_fp32", "Linear", codes(0.035f, 0, true), true, true, nullptr},
        Pattern{"saturating_output", "Linear", codes(0.02f, 60, false), true, true,
                codes(0.002f, 0, false)},
        Pattern{"matmul_per_tensor_fp32", "MatMul", codes(0.02f, 60, false), false, false, nullptr},
        Pattern{"matmul_per_tensor_relu_requantized", "MatMul", codes(0.02f, 60, false), false, true,
                codes(0.05f, 3, false)},
        Pattern{"conv_relu_requantized", "Conv2d", codes(0.02f, 60, false), true, true,
                codes(0.1f, 0, false)},
        Pattern{"conv_fp32", "Conv2d", codes(0.02f, 60, false), true, false, nullptr},
        Pattern{"conv_strided_padded_int8_input", "Conv2d", codes(0.035f, 0, true), true, true,
                codes(0.1f, 0, false), {{"stride", 2}, {"padding", 1}}},
        Pattern{"conv_dilated_no_bias_requantized_int8", "Conv2d", codes(0.02f, 60, false), false,
                false, codes(0.1f, 0, true), {{"dilation", 2}, {"padding", {2, 1}}}},
        Pattern{"conv_relu_pooled_codes", "Conv2d", codes(0.02f, 60, false), true, true,
                codes(0.1f, 0, false), Json::object(), true},
        Pattern{"conv_relu_padded_strided_pool", "Conv2d", codes(0.02f, 60, false), true, true,
                codes(0.1f, 0, false), Json::object(), true,
                {{"kernel_size", 3}, {"stride", 2}, {"padding", 1}}},
        Pattern{"conv_pool_dropping_the_last_row", "Conv2d", codes(0.02f, 60, false), true, true,
                codes(0.1f, 0, false), Json::object(), true, {{"kernel_size", 3}, {"stride", 2}}},
        Pattern{"conv_pooled_fp32", "Conv2d", codes(0.02f, 60, false), true, true, nullptr,
                Json::object(), true},
        Pattern{"reduced_range_uint8_relu_requantized", "Linear", codes(0.02f, 60, false), true,
                true, codes(0.05f, 0, false), Json::object(), false, {{"kernel_size", 2}}, 7},
        Pattern{"reduced_range_int8_input_fp32", "Linear", codes(0.035f, 0, true), true, false,
                nullptr, Json::object(), false, {{"kernel_size", 2}}, 7},
        Pattern{"reduced_range_matmul_requantized", "MatMul", codes(0.02f, 60, false), false, true,
                codes(0.05f, 3, false), Json::object(), false, {{"kernel_size", 2}}, 7},
        Pattern{"reduced_range_conv_int8_input_pooled", "Conv2d", codes(0.035f, 0, true), true,
                true, codes(0.1f, 0, false), {{"padding", 1}}, true, {{"kernel_size", 2}}, 7},
        Pattern{"reduced_range_conv_fp32", "Conv2d", codes(0.02f, 60, false), true, false,
                nullptr, Json::object(), false, {{"kernel_size", 2}}, 7}),
    [](const ::testing::TestParamInfo<Pattern>& info) { return info.param.name; });

// A synthetic image set: smooth random blobs in [0, 1].
Dataset images(const Shape& sample, int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> pixels;
  std::vector<int32_t> labels;
  int64_t size = 1;
  for (int64_t d : sample) size *= d;
  for (int64_t i = 0; i < n; ++i) {
    const float cx = rng.uniform(5.0f, 23.0f), cy = rng.uniform(5.0f, 23.0f), r = rng.uniform(3.0f, 9.0f);
    for (int64_t k = 0; k < size; ++k) {
      const float px = static_cast<float>(k % 28), py = static_cast<float>(k / 28 % 28);
      const float d2 = (px - cx) * (px - cx) + (py - cy) * (py - cy);
      pixels.push_back(std::clamp(std::exp(-d2 / (r * r)) + rng.normal(0.0f, 0.1f), 0.0f, 1.0f));
    }
    labels.push_back(static_cast<int32_t>(i % 10));
  }
  return Dataset::from_floats("blobs", sample, std::move(pixels), std::move(labels), 10);
}

// quant.int8 on a LeNet architecture, then the lowered model against the QDQ graph on 1,000
// images: the same predicted class on at least 99.5% of them.
void expect_same_predictions(const std::string& architecture, size_t expected_layers) {
  const Dataset data = images({1, 28, 28}, 1000, 3);
  Model model = build_architecture(architecture, {1, 28, 28}, 10, {{"seed", 4}});
  PassContext context;
  context.train = &data;
  make_pass("quant.int8", {{"batches", 2}, {"batch", 128}})->run(model, context);
  const std::vector<Int8LayerPlan> plans = plan_int8_execution(model);
  EXPECT_EQ(plans.size(), expected_layers);
  Model lowered = lower_to_int8(model);
  EXPECT_GE(testing::prediction_agreement(model, lowered, data, 1000), 0.995);
}

TEST(Int8Models, LeNet300100GivesTheQdqGraphsPredictions) {
  expect_same_predictions("lenet-300-100", 3);
}

TEST(Int8Models, LeNet5GivesTheQdqGraphsPredictions) {
  expect_same_predictions("lenet5", 4);
}

TEST(Int8Execution, RebuildsWhenTheWeightChanges) {
  for (const char* layer : {"Linear", "Conv2d"}) {
  Pattern p{"uint8_relu_fp32", layer, codes(0.02f, 60, false), true, true, nullptr};
  Model model = pattern_model(p);
  Model lowered = lower_to_int8(model);
  const Tensor x = uniform_batch(5, sample_of(p), -1.0f, 3.0f, 2);
  const Tensor before = lowered.forward(x);
  Parameter& weight = lowered.parameter("fc.weight");
  for (float& v : weight.value) v = -v;
  weight.mark_changed();
  Parameter& original = model.parameter("fc.weight");
  for (float& v : original.value) v = -v;
  original.mark_changed();
  const Tensor reference = model.forward(x);
  const Tensor& after = lowered.forward(x);
  EXPECT_GT(max_difference(before, after), 0.1f) << layer << ": the cached weights were used";
  EXPECT_LE(max_difference(reference, after), 1e-4f) << layer;
  }
}

TEST(Int8Execution, IsInferenceOnly) {
  Model model = pattern_model({"uint8_relu_fp32", "Linear", codes(0.02f, 60, false), true, true, nullptr});
  Model lowered = lower_to_int8(model);
  const Tensor x = uniform_batch(3, {12}, 0.0f, 1.0f, 1);
  const std::string message = testing::error_message([&] { lowered.forward(x, true); });
  EXPECT_NE(message.find("inference only"), std::string::npos) << message;
  // The original still trains: training never meets an int8 op.
  EXPECT_NO_THROW(model.forward(x, true));
}

TEST(Int8Execution, LeavesLayersOutsideThePatternAlone) {
  // A layer with an fp32 weight, and one whose DequantizeLinear has another reader, which stays.
  Model model = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {6}}}},
       {"nodes",
        {{{"name", "q"}, {"type", "QuantizeLinear"}, {"attributes", codes(0.05f, 10, false)}},
         {{"name", "dq"}, {"type", "DequantizeLinear"}, {"attributes", codes(0.05f, 10, false)}},
         {{"name", "fc"}, {"type", "Linear"}, {"attributes", {{"out_features", 6}}}},
         {{"name", "sum"}, {"type", "Add"}, {"inputs", {"fc", "dq"}}},
         {{"name", "plain"}, {"type", "Linear"}, {"attributes", {{"out_features", 3}}}}}}});
  model.initialize(1);
  EXPECT_TRUE(plan_int8_execution(model).empty()) << "fp32 weights do not lower";
  Parameter& weight = model.parameter("fc.weight");
  weight.set_quantizer(make_quantizer("affine", {{"bits", 8}, {"symmetric", true}, {"per_channel", true}},
                                      weight.value));
  const std::vector<Int8LayerPlan> plans = plan_int8_execution(model);
  ASSERT_EQ(plans.size(), 1u);
  EXPECT_EQ(plans[0].output_type, "fp32") << "fc has two readers' worth of graph after it";
  EXPECT_FALSE(plans[0].quantizes_input);
  Model lowered = lower_to_int8(model);
  EXPECT_NE(lowered.find_node("dq"), nullptr) << "sum still reads the dequantized input";
  EXPECT_EQ(lowered.node("fc").inputs, std::vector<std::string>{"q"}) << "fc reads q's codes";
  EXPECT_EQ(lowered.node("plain").op->type(), "Linear");
  const Tensor x = uniform_batch(9, {6}, -0.5f, 2.0f, 5);
  const Tensor reference = model.forward(x);
  EXPECT_LE(max_difference(reference, lowered.forward(x)), 1e-4f);
}

// SHRINK_ISA caps oneDNN as it caps shrink's own kernels: when this process runs under it, the
// int8 kernels say so.
TEST(Int8Execution, KernelsFollowShrinkIsa) {
  const char* isa = std::getenv("SHRINK_ISA");
  const std::string wanted = isa ? isa : "";
  if (wanted == "avx512") EXPECT_TRUE(int8_kernel_isa() == "avx512_core_bf16" ||
                                      int8_kernel_isa() == "avx512_core_vnni" ||
                                      int8_kernel_isa() == "avx512_core") << int8_kernel_isa();
  else if (wanted == "avx2") EXPECT_EQ(int8_kernel_isa(), "avx2");
  else if (wanted == "portable") EXPECT_EQ(int8_kernel_isa(), "sse41");
  else EXPECT_NE(int8_kernel_isa(), "reference");
}

// Every instruction set this CPU runs passes the pattern and model tests: this binary again,
// once per SHRINK_ISA (on a Sapphire Rapids: AMX in this process, AVX-512 VNNI, AVX2 without
// VNNI and SSE4.1 in the children).
TEST(Int8Execution, EveryOneDnnPathMatchesTheQdqGraph) {
  if (std::getenv("SHRINK_ISA") != nullptr) GTEST_SKIP() << "already a child run";
  std::printf("[ int8     ] this process: oneDNN %s\n", int8_kernel_isa().c_str());
  for (kernels::Isa isa : kernels::runnable_isas()) {
    const testing::CliResult r = testing::run_command(
        {"env", std::string("SHRINK_ISA=") + kernels::isa_name(isa), std::filesystem::read_symlink("/proc/self/exe").string(),
         "--gtest_brief=1", "--gtest_filter=Lowering/Int8Patterns.*:Int8Models.*:*KernelsFollowShrinkIsa"});
    EXPECT_EQ(r.exit_code, 0) << kernels::isa_name(isa) << ":\n" << r.out << r.err;
  }
}

}  // namespace
}  // namespace shrink
