// Conv and ConvTranspose: 2-D convolutions with constant weights (a preceding Pad folds into Conv).
#include "io/onnx/op_importers.hpp"
#include "io/onnx/window.hpp"
#include "shrink/core/error.hpp"

namespace shrink::onnx_io {
namespace {

void conv(Importer& im, const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"});
  std::array<int64_t, 2> extra{};
  const Dynamic& x = im.padded_input(node, 0, extra);
  if (x.sample.size() != 3)
    throw Error::bad_input("input has per-sample shape " + to_string(x.sample) +
                           "; shrink supports 2-D convolution on [N, C, H, W]");
  if (im.is_dynamic(node, 1)) throw Error::bad_input("the weights are computed at run time");
  const Constant& w = im.required_constant(node, 1, "weight");
  if (w.shape.size() != 4)
    throw Error::bad_input("the weight has shape " + to_string(w.shape) + ", not [O, I, kH, kW]");
  const std::array<int64_t, 2> kernel{w.shape[2], w.shape[3]};
  if (attrs.has("kernel_shape") &&
      attrs.get_ints("kernel_shape") != std::vector<int64_t>{kernel[0], kernel[1]})
    throw Error::bad_input("kernel_shape " + to_string(attrs.get_ints("kernel_shape")) +
                           " does not match the weight " + to_string(w.shape));
  const auto stride = pair_attribute(attrs, "strides", 1, 1);
  const auto dilation = pair_attribute(attrs, "dilations", 1, 1);
  auto padding = symmetric_pads(attrs, x, kernel, stride, dilation);
  if (extra != std::array<int64_t, 2>{0, 0} && attrs.get_string("auto_pad", "NOTSET") != "NOTSET")
    throw Error::bad_input("auto_pad after a Pad node is not supported");
  padding = {padding[0] + extra[0], padding[1] + extra[1]};
  std::vector<std::pair<std::string, Tensor>> params{{"weight", w.to_tensor()}};
  const bool has_bias = node.input_size() > 2 && !node.input(2).empty();
  if (has_bias) params.emplace_back("bias", im.required_constant(node, 2, "bias").to_tensor());
  im.emit(node, "Conv2d",
          {{"out_channels", w.shape[0]},
           {"kernel_size", pair_json(kernel)},
           {"stride", pair_json(stride)},
           {"padding", pair_json(padding)},
           {"dilation", pair_json(dilation)},
           {"groups", attrs.get_int("group", 1)},
           {"bias", has_bias}},
          {x.source}, std::move(params), node.input(1));
}

void conv_transpose(Importer& im, const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"auto_pad", "dilations", "group", "kernel_shape", "output_padding", "pads",
                    "strides"});
  const Dynamic& x = im.batch_first(node, 0);
  if (x.sample.size() != 3)
    throw Error::bad_input("input has per-sample shape " + to_string(x.sample) +
                           "; shrink supports 2-D transposed convolution on [N, C, H, W]");
  const Constant& w = im.required_constant(node, 1, "weight");
  if (w.shape.size() != 4)
    throw Error::bad_input("the weight has shape " + to_string(w.shape) + ", not [I, O/g, kH, kW]");
  const std::array<int64_t, 2> kernel{w.shape[2], w.shape[3]};
  if (attrs.has("kernel_shape") &&
      attrs.get_ints("kernel_shape") != std::vector<int64_t>{kernel[0], kernel[1]})
    throw Error::bad_input("kernel_shape " + to_string(attrs.get_ints("kernel_shape")) +
                           " does not match the weight " + to_string(w.shape));
  const std::string auto_pad = attrs.get_string("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "VALID")
    throw Error::bad_input("auto_pad " + auto_pad + " is not supported for ConvTranspose; " +
                           "write explicit pads");
  const std::vector<int64_t> pads =
      auto_pad == "VALID" ? std::vector<int64_t>{0, 0, 0, 0} : attrs.get_ints("pads", {0, 0, 0, 0});
  if (pads.size() != 4 || pads[0] != pads[2] || pads[1] != pads[3])
    throw Error::bad_input("the padding " + to_string(pads) + " is not symmetric [t, l, t, l]");
  const int64_t group = attrs.get_int("group", 1);
  std::vector<std::pair<std::string, Tensor>> params{{"weight", w.to_tensor()}};
  const bool has_bias = node.input_size() > 2 && !node.input(2).empty();
  if (has_bias) params.emplace_back("bias", im.required_constant(node, 2, "bias").to_tensor());
  im.emit(node, "ConvTranspose2d",
          {{"out_channels", w.shape[1] * group},
           {"kernel_size", pair_json(kernel)},
           {"stride", pair_json(pair_attribute(attrs, "strides", 1, 1))},
           {"padding", Json::array({pads[0], pads[1]})},
           {"output_padding", pair_json(pair_attribute(attrs, "output_padding", 0, 0))},
           {"dilation", pair_json(pair_attribute(attrs, "dilations", 1, 1))},
           {"groups", group},
           {"bias", has_bias}},
          {x.source}, std::move(params), node.input(1));
}

}  // namespace

void add_conv_importers(OpImporterTable& table) {
  table["Conv"] = conv;
  table["ConvTranspose"] = conv_transpose;
}

}  // namespace shrink::onnx_io
