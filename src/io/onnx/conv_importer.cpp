// Conv (2-D; a preceding Pad folds in) and ConvTranspose (1-D and 2-D, output_shape and auto_pad
// included), with constant weights.
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
          {x.source}, std::move(params), node.input(1))
      .weight_output_axis = 0;
}

// ConvTranspose's padding per spatial axis: from pads, or from auto_pad or output_shape, which
// fix the output size and leave the padding to be worked out (ONNX's rule: the odd unit goes
// before the axis, after it with SAME_UPPER). A total padding below zero is output padding:
// rows of the full transposed convolution past its end, which only the bias reaches.
struct TransposedAxis {
  int64_t kernel, stride, dilation, begin, end, output_padding;
};

std::vector<TransposedAxis> transposed_axes(const Attributes& attrs, const Shape& spatial,
                                            const std::vector<int64_t>& kernel) {
  const size_t rank = spatial.size();
  const auto stride = window_attribute(attrs, "strides", rank, 1, 1);
  const auto dilation = window_attribute(attrs, "dilations", rank, 1, 1);
  const auto output_padding = window_attribute(attrs, "output_padding", rank, 0, 0);
  const std::string auto_pad = attrs.get_string("auto_pad", "NOTSET");
  std::vector<TransposedAxis> axes(rank);
  std::vector<int64_t> target;  // the output size output_shape or auto_pad SAME_* asks for
  if (attrs.has("output_shape")) {
    target = window_attribute(attrs, "output_shape", rank, std::nullopt, 1);
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    for (size_t i = 0; i < rank; ++i) target.push_back(spatial[i] * stride[i]);
  }
  const WindowPads pads = target.empty() && auto_pad != "VALID"
                              ? window_pads(attrs, spatial, kernel, stride, dilation)
                              : WindowPads{std::vector<int64_t>(rank, 0),
                                           std::vector<int64_t>(rank, 0)};
  for (size_t i = 0; i < rank; ++i) {
    TransposedAxis& a = axes[i];
    a = {kernel[i], stride[i], dilation[i], pads.begin[i], pads.end[i], output_padding[i]};
    if (target.empty()) continue;
    const int64_t total = stride[i] * (spatial[i] - 1) + output_padding[i] +
                          (kernel[i] - 1) * dilation[i] + 1 - target[i];
    if (total < 0) {
      a.begin = a.end = 0;
      a.output_padding -= total;
    } else {
      const bool upper = auto_pad == "SAME_UPPER";
      a.begin = upper ? total / 2 : total - total / 2;
      a.end = total - a.begin;
    }
  }
  return axes;
}

// ConvTranspose of 1 or 2 spatial axes with a constant weight: shrink's ConvTranspose2d, the 1-D
// form as [C, 1, L] with a [I, O/g, 1, k] weight. Its padding is the same on both sides of an
// axis; one unit more before than after is that padding plus one row of output padding.
void conv_transpose(Importer& im, const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"auto_pad", "dilations", "group", "kernel_shape", "output_padding",
                    "output_shape", "pads", "strides"});
  const Dynamic& x = im.batch_first(node, 0);
  if (x.sample.size() != 2 && x.sample.size() != 3)
    throw Error::bad_input("input has per-sample shape " + to_string(x.sample) +
                           "; shrink supports 1-D and 2-D transposed convolution ([N, C, L] "
                           "and [N, C, H, W])");
  const size_t rank = x.sample.size() - 1;
  const Constant& w = im.required_constant(node, 1, "weight");
  if (w.shape.size() != rank + 2)
    throw Error::bad_input("the weight has shape " + to_string(w.shape) + ", not [I, O/g, " +
                           (rank == 1 ? "k]" : "kH, kW]"));
  const std::vector<int64_t> kernel(w.shape.begin() + 2, w.shape.end());
  if (attrs.has("kernel_shape") && attrs.get_ints("kernel_shape") != kernel)
    throw Error::bad_input("kernel_shape " + to_string(attrs.get_ints("kernel_shape")) +
                           " does not match the weight " + to_string(w.shape));
  std::vector<TransposedAxis> axes =
      transposed_axes(attrs, Shape(x.sample.begin() + 1, x.sample.end()), kernel);
  for (TransposedAxis& a : axes) {
    if (a.begin == a.end + 1) {
      a.end = a.begin;
      ++a.output_padding;
    } else if (a.begin != a.end) {
      std::vector<int64_t> all;
      for (const TransposedAxis& b : axes) all.push_back(b.begin);
      for (const TransposedAxis& b : axes) all.push_back(b.end);
      throw Error::bad_input("the padding " + to_string(all) + " (before, then after each axis)" +
                             " is asymmetric; shrink's ConvTranspose pads both sides of an axis " +
                             "equally or one more before than after");
    }
  }
  if (rank == 1) axes.insert(axes.begin(), TransposedAxis{1, 1, 1, 0, 0, 0});
  const int64_t group = attrs.get_int("group", 1);
  Tensor weight = w.to_tensor();
  weight.reshape({w.shape[0], w.shape[1], axes[0].kernel, axes[1].kernel});
  std::vector<std::pair<std::string, Tensor>> params{{"weight", std::move(weight)}};
  const bool has_bias = node.input_size() > 2 && !node.input(2).empty();
  if (has_bias) params.emplace_back("bias", im.required_constant(node, 2, "bias").to_tensor());
  auto pair = [&](int64_t TransposedAxis::*field) {
    return Json::array({axes[0].*field, axes[1].*field});
  };
  Dynamic input = x;
  if (rank == 1) {
    im.emit_reshape(node, x, {x.sample[0], 1, x.sample[1]});
    input = im.dynamic(node.output(0));
  }
  const PendingNode& p = im.emit(node, "ConvTranspose2d",
                                 {{"out_channels", w.shape[1] * group},
                                  {"kernel_size", pair(&TransposedAxis::kernel)},
                                  {"stride", pair(&TransposedAxis::stride)},
                                  {"padding", pair(&TransposedAxis::begin)},
                                  {"output_padding", pair(&TransposedAxis::output_padding)},
                                  {"dilation", pair(&TransposedAxis::dilation)},
                                  {"groups", group},
                                  {"bias", has_bias}},
                                 {input.source}, std::move(params), node.input(1));
  if (rank == 1) {
    const Shape out = p.sample_output;
    const Dynamic y = im.dynamic(node.output(0));
    im.emit_reshape(node, y, {out[0], out[2]});
  }
}

}  // namespace

void add_conv_importers(OpImporterTable& table) {
  table["Conv"] = conv;
  table["ConvTranspose"] = conv_transpose;
}

}  // namespace shrink::onnx_io
