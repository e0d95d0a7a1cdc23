// Model -> ONNX. Each shrink op maps to the ONNX operator of the same meaning (kEmitters, one
// line per op type); every parameter goes through parameter_input(), the single place that
// decides how a weight is stored, so quantized tensors can later be written as
// QuantizeLinear/DequantizeLinear without touching the per-op code.
#include "shrink/io/onnx.hpp"

#include "io/onnx_tensor.hpp"
#include "nn/ops/linear_quantization.hpp"
#include "shrink/core/error.hpp"
#include "shrink/core/file.hpp"
#include "shrink/nn/affine_quantizer.hpp"
#include "shrink/version.hpp"

#include <onnx/checker.h>

#include <array>
#include <map>
#include <set>

namespace shrink {
namespace {

using Json = nlohmann::json;

std::array<int64_t, 2> pair_of(const Json& attributes, const char* key, int64_t fallback) {
  if (!attributes.contains(key)) return {fallback, fallback};
  const Json& v = attributes.at(key);
  if (v.is_number_integer()) return {v.get<int64_t>(), v.get<int64_t>()};
  return {v.at(0).get<int64_t>(), v.at(1).get<int64_t>()};
}

class Exporter {
 public:
  explicit Exporter(const Model& model) : model_(model) {}
  onnx::ModelProto run();

 private:
  using Emitter = void (Exporter::*)(const Node&, const Json&);
  static const std::map<std::string, Emitter>& emitters();

  // The tensor name a node reads parameter `name` through: a float initializer holding the
  // effective value (pruned entries are zeros; a quantized weight dequantized to fp32, so any
  // runtime runs it).
  std::string parameter_input(const std::string& name);
  std::string float_initializer(const std::string& name, const Tensor& value);
  std::string int_initializer(const std::string& name, const std::vector<int64_t>& values);
  std::string byte_initializer(const std::string& name, const std::vector<int32_t>& values,
                               const Shape& shape, bool is_signed);
  // An 8-bit affine weight as codes -> DequantizeLinear; returns the dequantized tensor's name.
  std::string integer_weight(const Parameter& p, const AffineQuantizer& affine);

  onnx::NodeProto& add_node(const Node& node, const std::string& op_type,
                            std::vector<std::string> inputs);
  std::string value_name(const std::string& shrink_name) const;
  std::string output_of(const Node& node) const { return value_name(node.name); }
  std::string input_of(const Node& node, size_t i) const { return value_name(node.inputs.at(i)); }
  std::string param(const Node& node, size_t i) { return parameter_input(node.parameters.at(i)); }

  void linear(const Node&, const Json&);
  void conv2d(const Node&, const Json&);
  void max_pool(const Node&, const Json&);
  void avg_pool(const Node&, const Json&);
  void batch_norm(const Node&, const Json&);
  void simple(const Node&, const Json&);
  void leaky_relu(const Node&, const Json&);
  void hard_sigmoid(const Node&, const Json&);
  void softmax(const Node&, const Json&);
  void flatten(const Node&, const Json&);
  void dropout(const Node&, const Json&);
  void add(const Node&, const Json&);
  void broadcast_binary(const Node&, const Json&);
  void matmul(const Node&, const Json&);
  void conv_transpose(const Node&, const Json&);
  void clip(const Node&, const Json&);
  void reshape(const Node&, const Json&);
  void transpose(const Node&, const Json&);
  void concat(const Node&, const Json&);
  void sign(const Node&, const Json&);
  void dorefa_quantize(const Node&, const Json&);
  void linear_quantization(const Node&, const Json&);
  // A value of a node that ONNX writes as several nodes: "<node>/<step>".
  std::string add_step(const Node& node, const std::string& step, const std::string& op_type,
                       std::vector<std::string> inputs);
  std::string scalar(const Node& node, const std::string& suffix, float value) {
    return float_initializer(node.name + "." + suffix, Tensor({}, {value}));
  }

  const Model& model_;
  onnx::GraphProto* graph_ = nullptr;
  std::string output_name_;
  std::set<std::string> initializers_;
  int opset_ = kOnnxExportOpset;
};

const std::map<std::string, Exporter::Emitter>& Exporter::emitters() {
  static const std::map<std::string, Emitter> table = {
      {"Linear", &Exporter::linear},
      {"Conv2d", &Exporter::conv2d},
      {"MaxPool2d", &Exporter::max_pool},
      {"AvgPool2d", &Exporter::avg_pool},
      {"GlobalAvgPool", &Exporter::simple},
      {"GlobalMaxPool", &Exporter::simple},
      {"BatchNorm1d", &Exporter::batch_norm},
      {"BatchNorm2d", &Exporter::batch_norm},
      {"ReLU", &Exporter::simple},
      {"Sigmoid", &Exporter::simple},
      {"Tanh", &Exporter::simple},
      {"Hardswish", &Exporter::simple},
      {"Identity", &Exporter::simple},
      {"LeakyReLU", &Exporter::leaky_relu},
      {"Hardsigmoid", &Exporter::hard_sigmoid},
      {"Softmax", &Exporter::softmax},
      {"LogSoftmax", &Exporter::softmax},
      {"Flatten", &Exporter::flatten},
      {"Dropout", &Exporter::dropout},
      {"Add", &Exporter::add},
      {"BroadcastAdd", &Exporter::broadcast_binary},
      {"Sub", &Exporter::broadcast_binary},
      {"Mul", &Exporter::broadcast_binary},
      {"Div", &Exporter::broadcast_binary},
      {"MatMul", &Exporter::matmul},
      {"Clip", &Exporter::clip},
      {"ConvTranspose2d", &Exporter::conv_transpose},
      {"Reshape", &Exporter::reshape},
      {"Squeeze", &Exporter::reshape},
      {"Unsqueeze", &Exporter::reshape},
      {"Transpose", &Exporter::transpose},
      {"Concat", &Exporter::concat},
      {"Sign", &Exporter::sign},
      {"DoReFaQuantize", &Exporter::dorefa_quantize},
      {"GradientQuantize", &Exporter::simple},
      {"QuantizeLinear", &Exporter::linear_quantization},
      {"DequantizeLinear", &Exporter::linear_quantization},
  };
  return table;
}

std::string Exporter::value_name(const std::string& shrink_name) const {
  return shrink_name == model_.output_name() ? output_name_ : shrink_name;
}

std::string Exporter::float_initializer(const std::string& name, const Tensor& value) {
  if (!initializers_.insert(name).second)
    throw Error::internal("ONNX export: initializer '" + name + "' written twice");
  onnx_io::float_tensor_to_proto(value, name, *graph_->add_initializer());
  return name;
}

std::string Exporter::int_initializer(const std::string& name, const std::vector<int64_t>& values) {
  if (!initializers_.insert(name).second)
    throw Error::internal("ONNX export: initializer '" + name + "' written twice");
  onnx_io::int_tensor_to_proto(values, {static_cast<int64_t>(values.size())}, name,
                               *graph_->add_initializer());
  return name;
}

std::string Exporter::byte_initializer(const std::string& name, const std::vector<int32_t>& values,
                                       const Shape& shape, bool is_signed) {
  if (!initializers_.insert(name).second)
    throw Error::internal("ONNX export: initializer '" + name + "' written twice");
  onnx_io::byte_tensor_to_proto(values, shape, is_signed, name, *graph_->add_initializer());
  return name;
}

std::string Exporter::integer_weight(const Parameter& p, const AffineQuantizer& affine) {
  const Tensor& values = p.effective();
  std::vector<uint32_t> codes(static_cast<size_t>(values.numel()));
  affine.encode(values, codes);
  // Symmetric codes 0..254 around 127 are int8 -127..127 with zero point 0.
  const bool is_signed = affine.symmetric();
  const int64_t channels = affine.channels();
  const int64_t per_channel = values.numel() / channels;
  std::vector<int32_t> stored(codes.size());
  std::vector<int32_t> zero_points(static_cast<size_t>(channels));
  Tensor scales({channels});
  for (int64_t c = 0; c < channels; ++c) {
    const AffineParams& params = affine.params(c);
    const int32_t shift = is_signed ? params.zero_code : 0;
    zero_points[static_cast<size_t>(c)] = params.zero_code - shift;
    scales[c] = params.scale;
    for (int64_t i = c * per_channel; i < (c + 1) * per_channel; ++i)
      stored[static_cast<size_t>(i)] = static_cast<int32_t>(codes[static_cast<size_t>(i)]) - shift;
  }
  const Shape scale_shape = affine.per_channel() ? Shape{channels} : Shape{};
  if (!affine.per_channel()) scales = Tensor({}, {scales[0]});
  onnx::NodeProto& n = *graph_->add_node();
  n.set_name(p.name + "/dequantize");
  n.set_op_type("DequantizeLinear");
  n.add_input(byte_initializer(p.name + ".quantized", stored, values.shape(), is_signed));
  n.add_input(float_initializer(p.name + ".scale", scales));
  n.add_input(byte_initializer(p.name + ".zero_point", zero_points, scale_shape, is_signed));
  n.add_output(p.name);
  if (affine.per_channel()) {
    auto* axis = n.add_attribute();
    axis->set_name("axis");
    axis->set_type(onnx::AttributeProto_AttributeType_INT);
    axis->set_i(0);
  }
  return p.name;
}

std::string Exporter::parameter_input(const std::string& name) {
  const Parameter& p = model_.parameter(name);
  if (onnx_exports_as_integers(p))
    return integer_weight(p, dynamic_cast<const AffineQuantizer&>(*p.quantizer()));
  if (p.quantized()) return float_initializer(name, p.effective());
  if (!p.has_mask()) return float_initializer(name, p.value);
  Tensor masked = p.value;
  for (int64_t i = 0; i < masked.numel(); ++i)
    if (p.mask[i] == 0.0f) masked[i] = 0.0f;
  return float_initializer(name, masked);
}

onnx::NodeProto& Exporter::add_node(const Node& node, const std::string& op_type,
                                    std::vector<std::string> inputs) {
  onnx::NodeProto& n = *graph_->add_node();
  n.set_name(node.name);
  n.set_op_type(op_type);
  for (auto& in : inputs) n.add_input(std::move(in));
  n.add_output(output_of(node));
  return n;
}

void set_int(onnx::NodeProto& n, const char* name, int64_t value) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto_AttributeType_INT);
  a->set_i(value);
}

void set_float(onnx::NodeProto& n, const char* name, float value) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto_AttributeType_FLOAT);
  a->set_f(value);
}

void set_ints(onnx::NodeProto& n, const char* name, const std::vector<int64_t>& values) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto_AttributeType_INTS);
  for (int64_t v : values) a->add_ints(v);
}

// The window attributes of MaxPool and AveragePool: kernel, strides, pads (before, then after:
// shrink's padding and padding_end) and ceil_mode when set.
void set_pool_window(onnx::NodeProto& n, const Json& attrs) {
  const auto kernel = pair_of(attrs, "kernel_size", 1);
  const auto stride = attrs.contains("stride") ? pair_of(attrs, "stride", 1) : kernel;
  const auto begin = pair_of(attrs, "padding", 0);
  const auto end = attrs.contains("padding_end") ? pair_of(attrs, "padding_end", 0) : begin;
  set_ints(n, "kernel_shape", {kernel[0], kernel[1]});
  set_ints(n, "strides", {stride[0], stride[1]});
  set_ints(n, "pads", {begin[0], begin[1], end[0], end[1]});
  if (attrs.value("ceil_mode", false)) set_int(n, "ceil_mode", 1);
}

void Exporter::linear(const Node& node, const Json& attrs) {
  std::vector<std::string> inputs{input_of(node, 0), param(node, 0)};
  if (attrs.value("bias", true)) inputs.push_back(param(node, 1));
  set_int(add_node(node, "Gemm", std::move(inputs)), "transB", 1);
}

void Exporter::conv2d(const Node& node, const Json& attrs) {
  std::vector<std::string> inputs{input_of(node, 0), param(node, 0)};
  if (attrs.value("bias", true)) inputs.push_back(param(node, 1));
  onnx::NodeProto& n = add_node(node, "Conv", std::move(inputs));
  const auto kernel = pair_of(attrs, "kernel_size", 1);
  const auto stride = pair_of(attrs, "stride", 1);
  const auto padding = pair_of(attrs, "padding", 0);
  const auto dilation = pair_of(attrs, "dilation", 1);
  set_ints(n, "kernel_shape", {kernel[0], kernel[1]});
  set_ints(n, "strides", {stride[0], stride[1]});
  set_ints(n, "pads", {padding[0], padding[1], padding[0], padding[1]});
  set_ints(n, "dilations", {dilation[0], dilation[1]});
  set_int(n, "group", attrs.value("groups", int64_t{1}));
}

void Exporter::max_pool(const Node& node, const Json& attrs) {
  onnx::NodeProto& n = add_node(node, "MaxPool", {input_of(node, 0)});
  set_pool_window(n, attrs);
  const auto dilation = pair_of(attrs, "dilation", 1);
  if (dilation != std::array<int64_t, 2>{1, 1}) set_ints(n, "dilations", {dilation[0], dilation[1]});
}

void Exporter::avg_pool(const Node& node, const Json& attrs) {
  onnx::NodeProto& n = add_node(node, "AveragePool", {input_of(node, 0)});
  set_pool_window(n, attrs);
  set_int(n, "count_include_pad", attrs.value("count_include_pad", true) ? 1 : 0);
}

void Exporter::batch_norm(const Node& node, const Json& attrs) {
  onnx::NodeProto& n = add_node(node, "BatchNormalization",
                                {input_of(node, 0), param(node, 0), param(node, 1),
                                 param(node, 2), param(node, 3)});
  set_float(n, "epsilon", attrs.value("eps", 1e-5f));
  // PyTorch's momentum weighs the new statistic, ONNX's the running value.
  set_float(n, "momentum", 1.0f - attrs.value("momentum", 0.1f));
}

void Exporter::simple(const Node& node, const Json&) {
  static const std::map<std::string, std::string> kTypes = {
      {"GlobalAvgPool", "GlobalAveragePool"}, {"GlobalMaxPool", "GlobalMaxPool"},
      {"ReLU", "Relu"}, {"Sigmoid", "Sigmoid"}, {"Tanh", "Tanh"},
      {"Hardswish", "HardSwish"}, {"Identity", "Identity"},
      {"GradientQuantize", "Identity"}};  // it changes gradients only
  const std::string& type = kTypes.at(node.op->type());
  if (type == "HardSwish") opset_ = std::max(opset_, 14);  // HardSwish arrived in opset 14
  add_node(node, type, {input_of(node, 0)});
}

void Exporter::leaky_relu(const Node& node, const Json& attrs) {
  set_float(add_node(node, "LeakyRelu", {input_of(node, 0)}), "alpha",
            attrs.value("negative_slope", 0.01f));
}

void Exporter::hard_sigmoid(const Node& node, const Json& attrs) {
  onnx::NodeProto& n = add_node(node, "HardSigmoid", {input_of(node, 0)});
  set_float(n, "alpha", attrs.value("alpha", 0.2f));
  set_float(n, "beta", attrs.value("beta", 0.5f));
}

void Exporter::softmax(const Node& node, const Json& attrs) {
  const bool log = node.op->type() == "LogSoftmax";
  set_int(add_node(node, log ? "LogSoftmax" : "Softmax", {input_of(node, 0)}), "axis",
          attrs.value("dim", int64_t{log ? -1 : 1}));
}

void Exporter::flatten(const Node& node, const Json& attrs) {
  const int64_t start = attrs.value("start_dim", int64_t{1});
  if (start == 1) {
    set_int(add_node(node, "Flatten", {input_of(node, 0)}), "axis", 1);
    return;
  }
  // PyTorch's flatten keeps the leading axes: Reshape copies them with 0 and infers the rest.
  std::vector<int64_t> shape(static_cast<size_t>(start), 0);
  shape.push_back(-1);
  add_node(node, "Reshape", {input_of(node, 0), int_initializer(node.name + ".shape", shape)});
}

void Exporter::dropout(const Node& node, const Json& attrs) {
  const float p = attrs.value("p", 0.5f);
  add_node(node, "Dropout",
           {input_of(node, 0), float_initializer(node.name + ".ratio", Tensor({}, {p}))});
}

void Exporter::add(const Node& node, const Json&) {
  std::vector<std::string> inputs;
  for (size_t i = 0; i < node.inputs.size(); ++i) inputs.push_back(input_of(node, i));
  const char* type = inputs.size() == 1 ? "Identity" : inputs.size() == 2 ? "Add" : "Sum";
  add_node(node, type, std::move(inputs));
}

void Exporter::broadcast_binary(const Node& node, const Json& attrs) {
  const std::string type = node.op->type() == "BroadcastAdd" ? "Add" : node.op->type();
  if (!attrs.contains("constant_shape")) {
    add_node(node, type, {input_of(node, 0), input_of(node, 1)});
    return;
  }
  const std::string constant = param(node, 0);
  if (attrs.value("constant_first", false)) add_node(node, type, {constant, input_of(node, 0)});
  else add_node(node, type, {input_of(node, 0), constant});
}

void Exporter::matmul(const Node& node, const Json&) {
  if (node.parameters.empty()) add_node(node, "MatMul", {input_of(node, 0), input_of(node, 1)});
  else add_node(node, "MatMul", {input_of(node, 0), param(node, 0)});
}

void Exporter::conv_transpose(const Node& node, const Json& attrs) {
  std::vector<std::string> inputs{input_of(node, 0), param(node, 0)};
  if (attrs.value("bias", true)) inputs.push_back(param(node, 1));
  onnx::NodeProto& n = add_node(node, "ConvTranspose", std::move(inputs));
  const auto kernel = pair_of(attrs, "kernel_size", 1);
  const auto stride = pair_of(attrs, "stride", 1);
  const auto padding = pair_of(attrs, "padding", 0);
  const auto output_padding = pair_of(attrs, "output_padding", 0);
  const auto dilation = pair_of(attrs, "dilation", 1);
  set_ints(n, "kernel_shape", {kernel[0], kernel[1]});
  set_ints(n, "strides", {stride[0], stride[1]});
  set_ints(n, "pads", {padding[0], padding[1], padding[0], padding[1]});
  set_ints(n, "output_padding", {output_padding[0], output_padding[1]});
  set_ints(n, "dilations", {dilation[0], dilation[1]});
  set_int(n, "group", attrs.value("groups", int64_t{1}));
}

void Exporter::clip(const Node& node, const Json& attrs) {
  std::vector<std::string> inputs{input_of(node, 0), "", ""};
  if (attrs.contains("min") && !attrs["min"].is_null())
    inputs[1] = float_initializer(node.name + ".min", Tensor({}, {attrs["min"].get<float>()}));
  if (attrs.contains("max") && !attrs["max"].is_null())
    inputs[2] = float_initializer(node.name + ".max", Tensor({}, {attrs["max"].get<float>()}));
  while (inputs.size() > 1 && inputs.back().empty()) inputs.pop_back();
  add_node(node, "Clip", std::move(inputs));
}

std::string Exporter::add_step(const Node& node, const std::string& step,
                               const std::string& op_type, std::vector<std::string> inputs) {
  onnx::NodeProto& n = *graph_->add_node();
  n.set_name(node.name + "/" + step);
  n.set_op_type(op_type);
  for (auto& in : inputs) n.add_input(std::move(in));
  n.add_output(node.name + "/" + step);
  return n.output(0);
}

// ONNX's Sign gives 0 at 0; shrink's gives +1 there: Where(x < 0, -1, 1).
void Exporter::sign(const Node& node, const Json&) {
  const std::string negative =
      add_step(node, "negative", "Less", {input_of(node, 0), scalar(node, "zero", 0.0f)});
  add_node(node, "Where", {negative, scalar(node, "minus_one", -1.0f), scalar(node, "one", 1.0f)});
}

// round(clip(x, 0, 1) * levels) / levels; ONNX's Round ties to even, as shrink does.
void Exporter::dorefa_quantize(const Node& node, const Json& attrs) {
  const float levels = static_cast<float>((int64_t{1} << attrs.at("bits").get<int64_t>()) - 1);
  const std::string clipped = add_step(
      node, "clip", "Clip", {input_of(node, 0), scalar(node, "low", 0.0f), scalar(node, "high", 1.0f)});
  const std::string count = scalar(node, "levels", levels);
  const std::string rounded =
      add_step(node, "round", "Round", {add_step(node, "scale", "Mul", {clipped, count})});
  add_node(node, "Div", {rounded, count});
}

// QuantizeLinear / DequantizeLinear per tensor: the scale as a float scalar, the zero point as
// a scalar of the code type (uint8 or int8), which also sets QuantizeLinear's output type.
void Exporter::linear_quantization(const Node& node, const Json&) {
  const Json attrs = ops::inference_attributes(model_, node);  // a learned step: the last one
  const bool is_signed = attrs.value("type", std::string("uint8")) == "int8";
  const std::string scale = scalar(node, "scale", attrs.at("scale").get<float>());
  const std::string zero = byte_initializer(node.name + ".zero_point",
                                            {attrs.value("zero_point", 0)}, {}, is_signed);
  add_node(node, node.op->type(), {input_of(node, 0), scale, zero});
}

void Exporter::reshape(const Node& node, const Json&) {
  // The resolved per-sample shape after a 0 that copies the batch size: no -1 or allowzero
  // left for a runtime to interpret.
  std::vector<int64_t> shape{0};
  shape.insert(shape.end(), node.output_shape.begin(), node.output_shape.end());
  add_node(node, "Reshape", {input_of(node, 0), int_initializer(node.name + ".shape", shape)});
}

void Exporter::transpose(const Node& node, const Json& attrs) {
  onnx::NodeProto& n = add_node(node, "Transpose", {input_of(node, 0)});
  if (attrs.contains("perm")) set_ints(n, "perm", attrs["perm"].get<std::vector<int64_t>>());
}

void Exporter::concat(const Node& node, const Json& attrs) {
  std::vector<std::string> inputs;
  for (size_t i = 0; i < node.inputs.size(); ++i) inputs.push_back(input_of(node, i));
  const int64_t axis = attrs.contains("axis") ? attrs["axis"].get<int64_t>()
                                              : attrs.value("dim", int64_t{1});
  set_int(add_node(node, "Concat", std::move(inputs)), "axis", axis);
}

void add_value_info(onnx::ValueInfoProto& info, const std::string& name, const Shape& sample) {
  info.set_name(name);
  auto* tensor = info.mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(onnx::TensorProto_DataType_FLOAT);
  auto* shape = tensor->mutable_shape();
  shape->add_dim()->set_dim_param("batch");
  for (int64_t d : sample) shape->add_dim()->set_dim_value(d);
}

onnx::ModelProto Exporter::run() {
  onnx::ModelProto proto;
  graph_ = proto.mutable_graph();
  graph_->set_name(model_.metadata.contains("onnx")
                       ? model_.metadata["onnx"].value("graph", std::string("shrink"))
                       : "shrink");
  if (graph_->name().empty()) graph_->set_name("shrink");

  // Keep the output's original ONNX name when it does not clash with a node or parameter.
  std::set<std::string> taken;
  for (const ModelInput& input : model_.inputs()) taken.insert(input.name);
  for (const Node& node : model_.nodes()) taken.insert(node.name);
  for (const Parameter* p : model_.parameters()) taken.insert(p->name);
  output_name_ = model_.output_name();
  if (model_.metadata.contains("onnx") && model_.metadata["onnx"].contains("output")) {
    const std::string wanted = model_.metadata["onnx"]["output"].get<std::string>();
    if (!wanted.empty() && (wanted == output_name_ || !taken.count(wanted))) output_name_ = wanted;
  }

  for (const ModelInput& input : model_.inputs())
    add_value_info(*graph_->add_input(), input.name, input.shape);
  const auto& table = emitters();
  const std::string& last = model_.output_name();
  for (const Node& node : model_.nodes()) {
    auto it = table.find(node.op->type());
    if (it == table.end())
      throw Error::bad_input("node " + node.name + " (" + node.op->type() +
                             ") has no ONNX equivalent shrink can write");
    (this->*(it->second))(node, node.op->attributes());
    if (node.name == last) break;  // later nodes do not reach the output
  }
  add_value_info(*graph_->add_output(), output_name_, model_.output_shape());

  proto.set_ir_version(7);  // the IR version of opset 13 (ONNX 1.8)
  proto.set_producer_name(kProducerName);
  proto.set_producer_version(kVersion);
  auto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(opset_);
  // Facts ONNX has no field for (normalization, classes, provenance) travel as metadata.
  auto* meta = proto.add_metadata_props();
  meta->set_key("shrink.metadata");
  meta->set_value(model_.metadata.dump());
  return proto;
}

}  // namespace

bool onnx_exports_as_integers(const Parameter& parameter) {
  const auto* affine = dynamic_cast<const AffineQuantizer*>(parameter.quantizer());
  // 7-bit symmetric: quant.int8's reduce_range weights, codes -63..63 in int8.
  return affine != nullptr && (affine->bits() == 8 || (affine->bits() == 7 && affine->symmetric()));
}

std::string save_onnx_bytes(const Model& model) {
  onnx::ModelProto proto = Exporter(model).run();
  try {
    onnx::checker::check_model(proto);
  } catch (const std::exception& e) {
    throw Error::internal(std::string("the exported ONNX graph fails onnx::checker: ") + e.what());
  }
  return proto.SerializeAsString();
}

void save_onnx(const Model& model, const std::string& path) {
  write_file_atomic(path, save_onnx_bytes(model));
}

void check_onnx_file(const std::string& path) {
  onnx::ModelProto proto;
  if (!proto.ParseFromString(read_file(path, "ONNX model")))
    throw Error::bad_input(path + " is not an ONNX model (the protobuf does not parse)");
  try {
    onnx::checker::check_model(proto);
  } catch (const std::exception& e) {
    throw Error::bad_input(path + " fails onnx::checker: " + e.what());
  }
}

}  // namespace shrink
