// quant.int8 and the BatchNorm folding it starts with: the graph it leaves (QuantizeLinear ->
// DequantizeLinear in front of each Conv2d/Linear, per-channel int8 weights), calibration,
// --skip, the SQNR report, quantization-aware fine-tuning of the same graph, the file size, and
// the bad inputs it names.
#include "../../src/compress/batch_norm_folding.hpp"
#include "shrink/compress/pass.hpp"
#include "shrink/io/container.hpp"
#include "shrink/nn/affine_quantizer.hpp"
#include "shrink/nn/int8_execution.hpp"
#include "support/errors.hpp"
#include "support/toy_images.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace shrink {
namespace {

using Json = nlohmann::json;
using testing::bad_input_message;
using testing::first_samples;
using testing::quadrants;

// conv (no bias) -> BatchNorm2d -> ReLU -> pool -> flatten -> fc1 -> BatchNorm1d -> ReLU -> fc2.
Model small_cnn() {
  Model model = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {1, 8, 8}}}},
       {"nodes",
        {{{"name", "conv"}, {"type", "Conv2d"},
          {"attributes", {{"out_channels", 6}, {"kernel_size", 3}, {"padding", 1}, {"bias", false}}}},
         {{"name", "bn"}, {"type", "BatchNorm2d"}},
         {{"name", "relu"}, {"type", "ReLU"}},
         {{"name", "pool"}, {"type", "MaxPool2d"}, {"attributes", {{"kernel_size", 2}}}},
         {{"name", "flatten"}, {"type", "Flatten"}},
         {{"name", "fc1"}, {"type", "Linear"}, {"attributes", {{"out_features", 12}}}},
         {{"name", "bn1"}, {"type", "BatchNorm1d"}},
         {{"name", "relu1"}, {"type", "ReLU"}},
         {{"name", "fc2"}, {"type", "Linear"}, {"attributes", {{"out_features", 4}}}}}}});
  model.initialize(3);
  // Running statistics and affine parameters away from the identity, so folding has work to do.
  Rng rng(5);
  for (const char* bn : {"bn", "bn1"})
    for (const char* suffix : {"weight", "bias", "running_mean", "running_var"})
      for (float& v : model.parameter(std::string(bn) + "." + suffix).value)
        v = std::string(suffix) == "running_var" ? rng.uniform(0.2f, 3.0f) : rng.uniform(-1.0f, 1.0f);
  return model;
}

Json run_int8(Model& model, const Dataset& data, const Json& options = Json::object()) {
  PassContext context;
  context.train = &data;
  make_pass("quant.int8", options)->run(model, context);
  return context.sections.at(0);
}

double relative_error(const Tensor& reference, const Tensor& other) {
  double signal = 0.0, noise = 0.0;
  for (int64_t i = 0; i < reference.numel(); ++i) {
    signal += double(reference[i]) * reference[i];
    noise += (double(reference[i]) - other[i]) * (double(reference[i]) - other[i]);
  }
  return std::sqrt(noise / signal);
}

TEST(BatchNormFolding, FoldedLayersComputeWhatTheLayerAndBatchNormDid) {
  Model model = small_cnn();
  const Tensor x = first_samples(quadrants(16, 1), 16);
  const Tensor before = model.forward(x);
  const std::vector<std::string> folded = fold_batch_norms(model);
  EXPECT_EQ(folded, (std::vector<std::string>{"bn", "bn1"}));
  EXPECT_EQ(model.find_node("bn"), nullptr);
  EXPECT_EQ(model.find_node("bn1"), nullptr);
  EXPECT_EQ(model.node("relu").inputs, (std::vector<std::string>{"conv"}));
  EXPECT_NE(model.find_parameter("conv.bias"), nullptr) << "the bias-free conv gained a bias";
  const Tensor after = model.forward(x);
  ASSERT_EQ(after.shape(), before.shape());
  for (int64_t i = 0; i < after.numel(); ++i) EXPECT_NEAR(after[i], before[i], 1e-5f * (1.0f + std::fabs(before[i])));
  EXPECT_TRUE(fold_batch_norms(model).empty()) << "nothing left to fold";
}

TEST(BatchNormFolding, LeavesALayerWhoseOutputHasAnotherReader) {
  Model model = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {1, 4, 4}}}},
       {"nodes",
        {{{"name", "conv"}, {"type", "Conv2d"}, {"attributes", {{"out_channels", 2}, {"kernel_size", 1}}}},
         {{"name", "bn"}, {"type", "BatchNorm2d"}},
         {{"name", "sum"}, {"type", "Add"}, {"inputs", {"bn", "conv"}}}}}});
  model.initialize(1);
  EXPECT_TRUE(fold_batch_norms(model).empty());
  EXPECT_NE(model.find_node("bn"), nullptr);
}

TEST(QuantInt8, PutsQuantizeDequantizeInFrontOfEachLayerAndQuantizesWeightsPerChannel) {
  const Dataset data = quadrants(256, 2);
  Model model = small_cnn();
  Model reference = model.clone();
  const Json section = run_int8(model, data, {{"batches", 2}, {"batch", 64}});
  for (const char* layer : {"conv", "fc1", "fc2"}) {
    const std::string name = layer;
    const Node& q = model.node(name + "_quantize");
    const Node& dq = model.node(name + "_dequantize");
    EXPECT_EQ(q.op->type(), "QuantizeLinear");
    EXPECT_EQ(dq.op->type(), "DequantizeLinear");
    EXPECT_EQ(dq.inputs, (std::vector<std::string>{q.name}));
    EXPECT_EQ(model.node(name).inputs, (std::vector<std::string>{dq.name}));
    EXPECT_EQ(q.op->attributes(), dq.op->attributes());
    EXPECT_EQ(q.op->attributes()["type"], "uint8");
    const Parameter& weight = model.parameter(name + ".weight");
    ASSERT_TRUE(weight.quantized());
    const auto& affine = dynamic_cast<const AffineQuantizer&>(*weight.quantizer());
    // reduce_range "auto": 7-bit weights only where the int8 kernels lack VNNI.
    EXPECT_EQ(affine.bits(), int8_kernels_have_vnni() ? 8 : 7);
    EXPECT_TRUE(affine.symmetric());
    EXPECT_TRUE(affine.per_channel());
    EXPECT_TRUE(section["layers"].contains(name + ".weight"));
  }
  // After a ReLU the range starts at 0, so the zero point is 0; the data's own range has
  // negatives (noise), so the first layer's zero point is inside the codes.
  EXPECT_EQ(model.node("fc2_quantize").op->attributes()["zero_point"], 0);
  const int zero = model.node("conv_quantize").op->attributes()["zero_point"].get<int>();
  EXPECT_GT(zero, 0);
  EXPECT_LT(zero, 255);
  EXPECT_EQ(section["reduce_range"], !int8_kernels_have_vnni());
  EXPECT_EQ(section["folded_batch_norms"], Json({"bn", "bn1"}));
  EXPECT_EQ(section["calibration"], "minmax");
  EXPECT_EQ(section["calibration_samples"], 128);
  // The first layer's range under minmax is the calibration data's min and max.
  Json conv_row;
  for (const Json& row : section["activations"])
    if (row["layer"] == "conv") conv_row = row;
  EXPECT_EQ(conv_row["range"], conv_row["observed"]);
  // Ranked worst first, each quantized activation close to fp32.
  double previous = -1.0;
  for (const Json& row : section["activations"]) {
    const double db = row["output_sqnr_db"].get<double>();
    EXPECT_GE(db, previous);
    previous = db;
    EXPECT_GT(row["input_sqnr_db"].get<double>(), 25.0) << row.dump();
    EXPECT_GT(db, 20.0) << row.dump();
  }
  const Tensor x = first_samples(data, 64);
  EXPECT_LT(relative_error(reference.forward(x), model.forward(x)), 0.05);
}

TEST(QuantInt8, HistogramMethodsSymmetricActivationsAndSkippedLayers) {
  const Dataset data = quadrants(128, 3);
  for (const char* method : {"percentile:99.9", "entropy", "mse"}) {
    Model model = small_cnn();
    const Json section = run_int8(model, data, {{"calibration", method}, {"batches", 1}, {"batch", 128}});
    EXPECT_EQ(section["calibration"], method);
    for (const Json& row : section["activations"]) {
      EXPECT_GE(row["clipped_fraction"].get<double>(), 0.0);
      EXPECT_LT(row["clipped_fraction"].get<double>(), 1.0);
      // The 99.9th percentile clips 0.1% at each end, give or take the bin at the cut.
      if (std::string(method).starts_with("percentile"))
        EXPECT_LT(row["clipped_fraction"].get<double>(), 0.01) << row.dump();
      EXPECT_GE(row["range"][0].get<double>(), row["observed"][0].get<double>()) << method;
      EXPECT_LE(row["range"][1].get<double>(), row["observed"][1].get<double>()) << method;
    }
  }
  Model model = small_cnn();
  const Json section = run_int8(model, data, {{"activations", "int8"}, {"skip", {"fc2"}}, {"batches", 1}});
  const Json attributes = model.node("fc1_quantize").op->attributes();
  EXPECT_EQ(attributes["type"], "int8");
  EXPECT_EQ(attributes["zero_point"], 0);
  EXPECT_EQ(model.find_node("fc2_quantize"), nullptr);
  EXPECT_FALSE(model.parameter("fc2.weight").quantized());
  EXPECT_EQ(section["activations"].size(), 2u);
}

TEST(QuantInt8, MatMulWeightsArePerTensorAndConvTransposeIsRefused) {
  const Dataset data = quadrants(64, 7);
  // MatMul's weight is [in, out]: its output channels are columns, so one scale for the tensor.
  Model model = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {1, 8, 8}}}},
       {"nodes",
        {{{"name", "flatten"}, {"type", "Flatten"}},
         {{"name", "project"}, {"type", "MatMul"}, {"attributes", {{"in_features", 64}, {"out_features", 4}}}}}}});
  model.initialize(2);
  run_int8(model, data, {{"batches", 1}});
  const auto& affine = dynamic_cast<const AffineQuantizer&>(*model.parameter("project.weight").quantizer());
  EXPECT_FALSE(affine.per_channel());
  EXPECT_TRUE(affine.symmetric());
  EXPECT_EQ(model.node("project").inputs, (std::vector<std::string>{"project_dequantize"}));
  Model transposed = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {1, 8, 8}}}},
       {"nodes",
        {{{"name", "up"}, {"type", "ConvTranspose2d"}, {"attributes", {{"out_channels", 2}, {"kernel_size", 2}, {"stride", 2}}}},
         {{"name", "flatten"}, {"type", "Flatten"}},
         {{"name", "fc"}, {"type", "Linear"}, {"attributes", {{"out_features", 4}}}}}}});
  transposed.initialize(1);
  EXPECT_NE(bad_input_message([&] { run_int8(transposed, data, {{"batches", 1}}); })
                .find("layer 'up' (ConvTranspose2d) cannot be quantized to int8 yet; keep it in fp32 "
                      "with --skip up"),
            std::string::npos);
}

TEST(QuantInt8, FineTuningIsQuantizationAwareTrainingOfTheSameGraph) {
  const Dataset data = quadrants(256, 4);
  Model model = small_cnn();
  PassContext context;
  context.train = &data;
  context.finetune.epochs = 1;
  context.finetune.lr = 0.05f;
  make_pass("quant.int8", {{"batches", 2}, {"batch", 64}})->run(model, context);
  const Tensor before = model.parameter("conv.weight").value;
  make_pass("train.finetune", {{"epochs", 1}})->run(model, context);
  // The first layer learned through every QuantizeLinear/DequantizeLinear pair after it.
  EXPECT_NE(model.parameter("conv.weight").value, before);
  EXPECT_TRUE(model.parameter("conv.weight").quantized());
  EXPECT_NE(model.find_node("fc2_quantize"), nullptr);
}

TEST(QuantInt8, StoresInt8WeightsAtAQuarterOfTheFp32File) {
  Model model = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {1, 8, 8}}}},
       {"nodes",
        {{{"name", "flatten"}, {"type", "Flatten"}},
         {{"name", "fc1"}, {"type", "Linear"}, {"attributes", {{"out_features", 256}}}},
         {{"name", "relu"}, {"type", "ReLU"}},
         {{"name", "fc2"}, {"type", "Linear"}, {"attributes", {{"out_features", 256}}}},
         {{"name", "relu2"}, {"type", "ReLU"}},
         {{"name", "fc3"}, {"type", "Linear"}, {"attributes", {{"out_features", 4}}}}}}});
  model.initialize(1);
  const Dataset data = quadrants(64, 5);
  const size_t fp32_bytes = serialize_model(model).size();
  run_int8(model, data, {{"batches", 1}, {"batch", 64}});
  const std::string bytes = serialize_model(model);
  EXPECT_LE(static_cast<double>(bytes.size()), 0.27 * static_cast<double>(fp32_bytes));
  // The file gives back the same graph and the same outputs.
  Model loaded = deserialize_model(bytes, "int8 model");
  const Tensor x = first_samples(data, 8);
  EXPECT_EQ(loaded.forward(x), model.forward(x));
  EXPECT_EQ(loaded.node("fc2_quantize").op->attributes(), model.node("fc2_quantize").op->attributes());
}

// reduce_range stores 7-bit weights (codes -63..63, which oneDNN multiplies in one pass without
// VNNI) whatever the CPU; "off" keeps 8 bits whatever the CPU. The 7-bit model stays close to
// fp32 and its file reads back computing the same.
TEST(QuantInt8, ReduceRangeStoresSevenBitWeights) {
  const Dataset data = quadrants(128, 4);
  for (const char* reduce : {"on", "off"}) {
    Model model = small_cnn();
    Model reference = model.clone();
    const Json section = run_int8(model, data, {{"batches", 2}, {"batch", 64}, {"reduce_range", reduce}});
    const bool on = std::string(reduce) == "on";
    EXPECT_EQ(section["reduce_range"], on);
    EXPECT_EQ(section["weight_bits"], on ? 7 : 8);
    for (const char* layer : {"conv", "fc1", "fc2"}) {
      const Parameter& weight = model.parameter(std::string(layer) + ".weight");
      const auto& affine = dynamic_cast<const AffineQuantizer&>(*weight.quantizer());
      EXPECT_EQ(affine.bits(), on ? 7 : 8) << layer;
      EXPECT_TRUE(affine.symmetric());
      EXPECT_EQ(section["layers"][weight.name]["bits"], on ? 7 : 8);
      // Each channel's largest weight takes the largest code: 63 or 127.
      const int64_t channels = affine.channels(), per = weight.value.numel() / channels;
      for (int64_t c = 0; c < channels; ++c) {
        float largest = 0.0f;
        for (int64_t i = c * per; i < (c + 1) * per; ++i)
          largest = std::max(largest, std::fabs(weight.effective()[i]) / affine.params(c).scale);
        EXPECT_FLOAT_EQ(std::nearbyint(largest), on ? 63.0f : 127.0f) << layer << " channel " << c;
      }
    }
    const Tensor x = first_samples(data, 64);
    EXPECT_LT(relative_error(reference.forward(x), model.forward(x)), 0.06) << reduce;
    Model loaded = deserialize_model(serialize_model(model), "int8 model");
    EXPECT_EQ(loaded.forward(x), model.forward(x)) << reduce;
  }
}

TEST(QuantInt8, BadInputIsNamed) {
  const Dataset data = quadrants(32, 6);
  Model model = small_cnn();
  EXPECT_NE(bad_input_message([&] {
              PassContext context;  // no training data
              make_pass("quant.int8", {})->run(model, context);
            }).find("calibrates the activation ranges on training data; give some (--data)"),
            std::string::npos);
  EXPECT_NE(bad_input_message([&] { run_int8(model, data, {{"skip", {"relu"}}}); })
                .find("skip names 'relu', which is not a layer int8 quantizes"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] { make_pass("quant.int8", {{"calibration", "kl"}}); }).find("unknown method 'kl'"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] { make_pass("quant.int8", {{"activations", "int4"}}); })
                .find("activations must be \"uint8\""),
            std::string::npos);
  EXPECT_NE(bad_input_message([] { make_pass("quant.int8", {{"bits", 4}}); }).find("unknown option 'bits'"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] { make_pass("quant.int8", {{"reduce_range", "yes"}}); })
                .find("reduce_range must be \"auto\" (7-bit weights when the CPU's int8 kernels lack "
                      "VNNI), \"on\" or \"off\", got \"yes\""),
            std::string::npos);
  // An op int8 cannot quantize yet: a product of two activations.
  Model attention = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {1, 8, 8}}}},
       {"nodes",
        {{{"name", "product"}, {"type", "MatMul"}, {"inputs", {"x", "x"}}},
         {{"name", "flatten"}, {"type", "Flatten"}},
         {{"name", "fc"}, {"type", "Linear"}, {"attributes", {{"out_features", 4}}}}}}});
  attention.initialize(1);
  EXPECT_NE(bad_input_message([&] { run_int8(attention, data, {{"batches", 1}}); })
                .find("layer 'product' (MatMul of two activations) cannot be quantized to int8 yet; "
                      "keep it in fp32 with --skip product"),
            std::string::npos);
  run_int8(attention, data, {{"batches", 1}, {"skip", {"product"}}});
  EXPECT_NE(attention.find_node("fc_quantize"), nullptr);
  // A weight quantized by another pass.
  EXPECT_NE(bad_input_message([&] {
              Model twice = small_cnn();
              PassContext context;
              make_pass("quant.affine", {{"bits", 4}})->run(twice, context);
              run_int8(twice, data);
            }).find("already has a quantized weight (affine)"),
            std::string::npos);
}

}  // namespace
}  // namespace shrink
