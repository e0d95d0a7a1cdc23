// QuantizeLinear and DequantizeLinear of an activation.
#include "io/onnx/op_importers.hpp"
#include "shrink/core/error.hpp"

namespace shrink::onnx_io {
namespace {

// QuantizeLinear / DequantizeLinear of an activation, per tensor (those of constant weights,
// per tensor or per axis, fold at load time): shrink's ops of the same names, the zero point's
// type (uint8 when absent) giving the codes' range.
void linear_quantization(Importer& im, const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"axis"});
  const Constant& scale = im.required_constant(node, 1, "scale");
  if (scale.numel() != 1)
    throw Error::bad_input("per-axis scales on an activation are not supported: shrink "
                           "quantizes activations per tensor (per-axis scales are read on "
                           "constant weights)");
  Json attributes = {{"scale", static_cast<float>(scale.scalar("scale"))}, {"type", "uint8"}};
  if (node.input_size() > 2 && !node.input(2).empty()) {
    const Constant& zero = im.required_constant(node, 2, "zero point");
    if (zero.data_type != onnx::TensorProto_DataType_INT8 &&
        zero.data_type != onnx::TensorProto_DataType_UINT8)
      throw Error::bad_input("the zero point is " + onnx_io::data_type_name(zero.data_type) +
                             "; shrink reads int8 and uint8 activations");
    attributes["zero_point"] = static_cast<int64_t>(zero.scalar("zero point"));
    if (zero.data_type == onnx::TensorProto_DataType_INT8) attributes["type"] = "int8";
  }
  im.emit(node, node.op_type(), attributes, {im.batch_first(node, 0).source});
}

}  // namespace

void add_quantization_importers(OpImporterTable& table) {
  table["QuantizeLinear"] = linear_quantization;
  table["DequantizeLinear"] = linear_quantization;
}

}  // namespace shrink::onnx_io
