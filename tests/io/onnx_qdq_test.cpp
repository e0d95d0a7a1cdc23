// QDQ ONNX: a quant.int8 model exports as ONNX's QDQ form — QuantizeLinear/DequantizeLinear on
// activations with uint8/int8 zero points, int8 weights with per-channel scales behind a
// DequantizeLinear (axis 0) — and reads back computing the same numbers; per-tensor uint8
// weights too; per-axis scales on an activation are refused with the reason.
#include "shrink/compress/pass.hpp"
#include "shrink/core/random.hpp"
#include "shrink/io/onnx.hpp"
#include "support/errors.hpp"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstdlib>
#include <map>

namespace shrink {
namespace {

using Json = nlohmann::json;

Dataset noise_images(int64_t n) {
  Rng rng(11);
  std::vector<float> pixels;
  std::vector<int32_t> labels;
  for (int64_t i = 0; i < n; ++i) {
    for (int k = 0; k < 64; ++k) pixels.push_back(rng.normal(0.2f, 1.0f));
    labels.push_back(static_cast<int32_t>(i % 3));
  }
  return Dataset::from_floats("noise", {1, 8, 8}, std::move(pixels), std::move(labels), 3);
}

Model small_cnn() {
  Model model = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {1, 8, 8}}}},
       {"nodes",
        {{{"name", "conv1"}, {"type", "Conv2d"}, {"attributes", {{"out_channels", 4}, {"kernel_size", 3}, {"padding", 1}}}},
         {{"name", "relu1"}, {"type", "ReLU"}},
         {{"name", "pool"}, {"type", "MaxPool2d"}, {"attributes", {{"kernel_size", 2}}}},
         {{"name", "conv2"}, {"type", "Conv2d"}, {"attributes", {{"out_channels", 6}, {"kernel_size", 3}}}},
         {{"name", "relu2"}, {"type", "ReLU"}},
         {{"name", "flatten"}, {"type", "Flatten"}},
         {{"name", "fc"}, {"type", "Linear"}, {"attributes", {{"out_features", 3}}}}}}});
  model.initialize(7);
  return model;
}

Tensor batch(int64_t n) {
  Rng rng(3);
  Tensor x({n, 1, 8, 8});
  for (float& v : x) v = rng.normal(0.2f, 1.0f);
  return x;
}

onnx::ModelProto parse(const std::string& bytes) {
  onnx::ModelProto proto;
  EXPECT_TRUE(proto.ParseFromString(bytes));
  return proto;
}

const onnx::TensorProto* initializer(const onnx::ModelProto& proto, const std::string& name) {
  for (const auto& t : proto.graph().initializer())
    if (t.name() == name) return &t;
  return nullptr;
}

TEST(OnnxQdq, Int8ModelExportsAsQdqAndReadsBackTheSame) {
  const Dataset data = noise_images(64);
  Model model = small_cnn();
  PassContext context;
  context.train = &data;
  make_pass("quant.int8", {{"batches", 1}, {"batch", 64}})->run(model, context);
  for (const Parameter* p : model.parameters())
    if (p->quantized()) EXPECT_TRUE(onnx_exports_as_integers(*p)) << p->name;

  const std::string bytes = save_onnx_bytes(model);
  const onnx::ModelProto proto = parse(bytes);
  EXPECT_EQ(proto.opset_import(0).version(), 13);
  std::map<std::string, int> counts;
  for (const auto& node : proto.graph().node()) {
    ++counts[node.op_type()];
    if (node.op_type() == "QuantizeLinear") {
      const onnx::TensorProto* zero = initializer(proto, node.input(2));
      ASSERT_NE(zero, nullptr) << node.name();
      EXPECT_EQ(zero->data_type(), onnx::TensorProto_DataType_UINT8);
      EXPECT_EQ(zero->dims_size(), 0) << "per tensor";
    }
    if (node.op_type() == "DequantizeLinear" && initializer(proto, node.input(0)) != nullptr) {
      // A weight: int8 codes, one scale and zero point per output channel along axis 0.
      const onnx::TensorProto* codes = initializer(proto, node.input(0));
      EXPECT_EQ(codes->data_type(), onnx::TensorProto_DataType_INT8) << node.name();
      const onnx::TensorProto* scale = initializer(proto, node.input(1));
      ASSERT_NE(scale, nullptr);
      EXPECT_EQ(scale->dims_size(), 1);
      EXPECT_EQ(scale->dims(0), codes->dims(0));
      ASSERT_EQ(node.attribute_size(), 1);
      EXPECT_EQ(node.attribute(0).name(), "axis");
      EXPECT_EQ(node.attribute(0).i(), 0);
    }
  }
  EXPECT_EQ(counts["QuantizeLinear"], 3);
  EXPECT_EQ(counts["DequantizeLinear"], 6) << "three activations and three weights";

  const Model again = load_onnx_bytes(bytes, "qdq export");
  int pairs = 0;
  for (const Node& node : again.nodes()) pairs += node.op->type() == "QuantizeLinear";
  EXPECT_EQ(pairs, 3);
  const Tensor x = batch(5);
  const Tensor expected = model.forward(x);
  Model copy = again.clone();
  const Tensor actual = copy.forward(x);
  ASSERT_EQ(actual.shape(), expected.shape());
  for (int64_t i = 0; i < actual.numel(); ++i) EXPECT_FLOAT_EQ(actual[i], expected[i]) << i;
}

TEST(OnnxQdq, PerTensorUint8WeightsAndInt8ActivationsRoundTrip) {
  const Dataset data = noise_images(32);
  Model model = small_cnn();
  PassContext context;
  context.train = &data;
  make_pass("quant.int8", {{"batches", 1}, {"activations", "int8"}})->run(model, context);
  // Every weight re-quantized as asymmetric uint8 per tensor.
  make_pass("quant.affine", {{"bits", 8}})->run(model, context);
  const std::string bytes = save_onnx_bytes(model);
  const onnx::ModelProto proto = parse(bytes);
  const onnx::TensorProto* fc = initializer(proto, "fc.weight.quantized");
  ASSERT_NE(fc, nullptr);
  EXPECT_EQ(fc->data_type(), onnx::TensorProto_DataType_UINT8);
  EXPECT_EQ(initializer(proto, "fc.weight.scale")->dims_size(), 0);
  const Model again = load_onnx_bytes(bytes, "qdq export");
  EXPECT_EQ(again.node("conv2_quantize").op->attributes()["type"], "int8");
  Model copy = again.clone();
  const Tensor x = batch(4);
  const Tensor expected = model.forward(x);
  const Tensor actual = copy.forward(x);
  for (int64_t i = 0; i < actual.numel(); ++i) EXPECT_FLOAT_EQ(actual[i], expected[i]) << i;
}

// reduce_range's 7-bit weights export as int8 codes within -63..63 (ONNX Runtime runs the same
// numbers) and read back computing the same.
TEST(OnnxQdq, ReducedRangeWeightsExportAsInt8Codes) {
  const Dataset data = noise_images(64);
  Model model = small_cnn();
  PassContext context;
  context.train = &data;
  make_pass("quant.int8", {{"batches", 1}, {"batch", 64}, {"reduce_range", "on"}})->run(model, context);
  for (const Parameter* p : model.parameters())
    if (p->quantized()) EXPECT_TRUE(onnx_exports_as_integers(*p)) << p->name;
  const std::string bytes = save_onnx_bytes(model);
  const onnx::ModelProto proto = parse(bytes);
  for (const char* layer : {"conv1", "conv2", "fc"}) {
    const onnx::TensorProto* codes = initializer(proto, std::string(layer) + ".weight.quantized");
    ASSERT_NE(codes, nullptr) << layer;
    EXPECT_EQ(codes->data_type(), onnx::TensorProto_DataType_INT8);
    const std::string& raw = codes->raw_data();
    ASSERT_FALSE(raw.empty()) << layer;
    int largest = 0;
    for (char c : raw) largest = std::max(largest, std::abs(static_cast<int>(static_cast<int8_t>(c))));
    EXPECT_EQ(largest, 63) << layer;
  }
  const Model again = load_onnx_bytes(bytes, "qdq export");
  Model copy = again.clone();
  const Tensor x = batch(5);
  const Tensor expected = model.forward(x);
  const Tensor actual = copy.forward(x);
  for (int64_t i = 0; i < actual.numel(); ++i) EXPECT_FLOAT_EQ(actual[i], expected[i]) << i;
}

TEST(OnnxQdq, PerAxisScalesOnAnActivationAreRefused) {
  const Dataset data = noise_images(32);
  Model model = small_cnn();
  PassContext context;
  context.train = &data;
  make_pass("quant.int8", {{"batches", 1}})->run(model, context);
  onnx::ModelProto proto = parse(save_onnx_bytes(model));
  for (auto& t : *proto.mutable_graph()->mutable_initializer()) {
    if (t.name() != "conv2_quantize.scale") continue;
    t.add_dims(2);
    t.set_raw_data(t.raw_data() + t.raw_data());
  }
  for (auto& t : *proto.mutable_graph()->mutable_initializer()) {
    if (t.name() != "conv2_quantize.zero_point") continue;
    t.add_dims(2);
    t.set_raw_data(t.raw_data() + t.raw_data());
  }
  const std::string message =
      testing::bad_input_message([&] { load_onnx_bytes(proto.SerializeAsString(), "edited"); });
  EXPECT_NE(message.find("per-axis scales on an activation are not supported"), std::string::npos) << message;
  EXPECT_NE(message.find("QuantizeLinear"), std::string::npos) << message;
}

}  // namespace
}  // namespace shrink
