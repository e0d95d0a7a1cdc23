// MaxPool, AveragePool (a preceding Pad folds in), GlobalAveragePool and GlobalMaxPool.
#include "io/onnx/op_importers.hpp"
#include "io/onnx/window.hpp"
#include "shrink/core/error.hpp"

namespace shrink::onnx_io {
namespace {

// Pools without ceil_mode support: accept ceil_mode=1 only where it gives the floor's size.
void check_ceil_mode(const Attributes& attrs, const Shape& sample, const std::array<int64_t, 2>& kernel,
                     const std::array<int64_t, 2>& stride, const std::array<int64_t, 2>& padding) {
  if (attrs.get_int("ceil_mode", 0) == 0) return;
  for (size_t i = 0; i < 2; ++i) {
    const int64_t span = sample.at(1 + i) + 2 * padding[i] - kernel[i];
    if (span >= 0 && span % stride[i] != 0)
      throw Error::bad_input("ceil_mode=1 gives a larger output than floor rounding here; "
                             "shrink pools round down");
  }
}


void max_pool(Importer& im, const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads",
                    "storage_order", "strides"});
  const Dynamic& x = im.batch_first(node, 0);
  if (x.sample.size() != 3)
    throw Error::bad_input("input has per-sample shape " + to_string(x.sample) +
                           "; shrink supports 2-D pooling on [N, C, H, W]");
  const auto kernel = pair_attribute(attrs, "kernel_shape", std::nullopt, 1);
  const auto stride = pair_attribute(attrs, "strides", 1, 1);
  const auto dilation = pair_attribute(attrs, "dilations", 1, 1);
  if (dilation != std::array<int64_t, 2>{1, 1})
    throw Error::bad_input("dilations " + to_string({dilation[0], dilation[1]}) +
                           " are not supported for MaxPool");
  const auto padding = symmetric_pads(attrs, x, kernel, stride, dilation);
  check_ceil_mode(attrs, x.sample, kernel, stride, padding);
  im.emit(node, "MaxPool2d",
          {{"kernel_size", pair_json(kernel)}, {"stride", pair_json(stride)},
           {"padding", pair_json(padding)}},
          {x.source});
}

void average_pool(Importer& im, const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads",
                    "strides"});
  std::array<int64_t, 2> extra{};
  const Dynamic& x = im.padded_input(node, 0, extra);
  if (x.sample.size() != 3)
    throw Error::bad_input("input has per-sample shape " + to_string(x.sample) +
                           "; shrink supports 2-D pooling on [N, C, H, W]");
  const auto kernel = pair_attribute(attrs, "kernel_shape", std::nullopt, 1);
  const auto stride = pair_attribute(attrs, "strides", 1, 1);
  auto padding = symmetric_pads(attrs, x, kernel, stride, {1, 1});
  bool count_include_pad = attrs.get_int("count_include_pad", 0) != 0;
  if (extra != std::array<int64_t, 2>{0, 0}) {
    // Zeros from a Pad node are real pixels to AveragePool: they count in every window.
    if (attrs.get_string("auto_pad", "NOTSET") != "NOTSET" ||
        (!count_include_pad && padding != std::array<int64_t, 2>{0, 0}))
      throw Error::bad_input("padding from a Pad node combined with count_include_pad=0 padding "
                             "is not supported");
    padding = {padding[0] + extra[0], padding[1] + extra[1]};
    count_include_pad = true;
  }
  check_ceil_mode(attrs, x.sample, kernel, stride, padding);
  im.emit(node, "AvgPool2d",
          {{"kernel_size", pair_json(kernel)}, {"stride", pair_json(stride)},
           {"padding", pair_json(padding)}, {"count_include_pad", count_include_pad}},
          {x.source});
}

void global_pool(Importer& im, const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({});
  const Dynamic& x = im.batch_first(node, 0);
  im.emit(node, node.op_type() == "GlobalAveragePool" ? "GlobalAvgPool" : "GlobalMaxPool",
          Json::object(), {x.source});
}

}  // namespace

void add_pool_importers(OpImporterTable& table) {
  table["MaxPool"] = max_pool;
  table["AveragePool"] = average_pool;
  table["GlobalAveragePool"] = global_pool;
  table["GlobalMaxPool"] = global_pool;
}

}  // namespace shrink::onnx_io
