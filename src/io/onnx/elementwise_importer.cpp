// Element-wise operators: broadcasting Add/Sub/Mul/Div, activations, Clip, and the operators that
// pass an activation through (Identity, Cast to float, Dropout at inference).
#include "io/onnx/op_importers.hpp"
#include "shrink/core/error.hpp"

#include <map>

namespace shrink::onnx_io {
namespace {

void binary(Importer& im, const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({});
  const std::string& kind = node.op_type();
  const std::string type = kind == "Add" ? "BroadcastAdd" : kind;
  const Constant* ca = im.constant(node, 0);
  const Constant* cb = im.constant(node, 1);
  if (!ca && !cb) {
    const Dynamic& a = im.batch_first(node, 0);
    const Dynamic& b = im.batch_first(node, 1);
    if (kind == "Add" && a.sample == b.sample) {
      im.emit(node, "Add", Json::object(), {a.source, b.source});
      return;
    }
    im.emit(node, type, Json::object(), {a.source, b.source});
    return;
  }
  const bool constant_first = ca != nullptr;
  const Constant& c = constant_first ? *ca : *cb;
  const int x_index = constant_first ? 1 : 0;
  const Dynamic& x = im.batch_first(node, x_index);
  if (c.is_integer || c.has_batch())
    throw Error::bad_input("an integer or batch-size constant meets an activation");
  if (kind == "Add" && im.try_fuse_bias(node, node.input(x_index), x, c)) return;
  const size_t rank = x.sample.size() + 1;
  if (c.shape.size() > rank || (c.shape.size() == rank && c.shape[0] != 1))
    throw Error::bad_input("the constant of shape " + to_string(c.shape) +
                           " would broadcast over the batch axis of [N, " +
                           to_string(x.sample).substr(1));
  im.emit(node, type, {{"constant_shape", c.shape}, {"constant_first", constant_first}},
          {x.source}, {{"constant", c.to_tensor()}});
}

void activation(Importer& im, const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({});
  static const std::map<std::string, std::string> kTypes = {
      {"Relu", "ReLU"}, {"Sigmoid", "Sigmoid"}, {"Tanh", "Tanh"}, {"HardSwish", "Hardswish"}};
  im.emit(node, kTypes.at(node.op_type()), Json::object(), {im.batch_first(node, 0).source});
}

void leaky_relu(Importer& im, const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"alpha"});
  im.emit(node, "LeakyReLU", {{"negative_slope", attrs.get_float("alpha", 0.01f)}},
          {im.batch_first(node, 0).source});
}

void hard_sigmoid(Importer& im, const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"alpha", "beta"});
  im.emit(node, "Hardsigmoid",
          {{"alpha", attrs.get_float("alpha", 0.2f)}, {"beta", attrs.get_float("beta", 0.5f)}},
          {im.batch_first(node, 0).source});
}

void clip(Importer& im, const onnx::NodeProto& node, const Attributes& attrs) {
  Json bounds = Json::object();
  if (im.opset() < 11) {
    attrs.allow_only({"min", "max"});
    if (attrs.has("min")) bounds["min"] = attrs.get_float("min", 0);
    if (attrs.has("max")) bounds["max"] = attrs.get_float("max", 0);
  } else {
    attrs.allow_only({});
    const char* names[] = {"min", "max"};
    for (int i = 1; i <= 2; ++i) {
      if (i >= node.input_size() || node.input(i).empty()) continue;
      const Constant& c = im.required_constant(node, i, names[i - 1]);
      bounds[names[i - 1]] = static_cast<float>(c.scalar(names[i - 1]));
    }
  }
  im.emit(node, "Clip", bounds, {im.batch_first(node, 0).source});
}


void dropout(Importer& im, const onnx::NodeProto& node, const Attributes& attrs) {
  float ratio = 0.5f;
  if (im.opset() < 12) {
    attrs.allow_only({"ratio", "is_test"});
    ratio = attrs.get_float("ratio", 0.5f);
  } else {
    attrs.allow_only({"seed"});
    if (node.input_size() > 1 && !node.input(1).empty())
      ratio = static_cast<float>(im.required_constant(node, 1, "ratio").scalar("ratio"));
    if (node.input_size() > 2 && !node.input(2).empty() &&
        im.required_constant(node, 2, "training_mode").scalar("training_mode") != 0)
      throw Error::bad_input("training_mode is true; export the model in eval mode");
  }
  im.emit(node, "Dropout", {{"p", ratio}}, {im.batch_first(node, 0).source});
}

void identity(Importer& im, const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({});
  im.alias(node, im.batch_first(node, 0));
}

void cast(Importer& im, const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"to", "saturate"});
  const int64_t to = attrs.get_int("to", 0);
  if (to != onnx::TensorProto_DataType_FLOAT)
    throw Error::bad_input("casting an activation to " +
                           onnx_io::data_type_name(static_cast<int>(to)) +
                           " is not supported (shrink computes in float32)");
  im.alias(node, im.batch_first(node, 0));
}

}  // namespace

void add_elementwise_importers(OpImporterTable& table) {
  table["Add"] = binary;
  table["Sub"] = binary;
  table["Mul"] = binary;
  table["Div"] = binary;
  table["Relu"] = activation;
  table["Sigmoid"] = activation;
  table["Tanh"] = activation;
  table["HardSwish"] = activation;
  table["LeakyRelu"] = leaky_relu;
  table["HardSigmoid"] = hard_sigmoid;
  table["Clip"] = clip;
  table["Dropout"] = dropout;
  table["Identity"] = identity;
  table["Cast"] = cast;
}

}  // namespace shrink::onnx_io
