// MaxPool and AveragePool over 1, 2 or 3 spatial axes (auto_pad, asymmetric pads, ceil_mode,
// MaxPool dilations; a preceding Pad folds into AveragePool), GlobalAveragePool and GlobalMaxPool.
#include "io/onnx/op_importers.hpp"
#include "io/onnx/window.hpp"
#include "shrink/core/error.hpp"

namespace shrink::onnx_io {
namespace {

// One spatial axis of an ONNX pool, as shrink's 2-D pools take it.
struct PoolAxis {
  int64_t kernel = 1, stride = 1, dilation = 1, begin = 0, end = 0;
};

// The ONNX pool's window over the spatial axes of `x` (per-sample [C, spatial...]).
std::vector<PoolAxis> pool_axes(const Attributes& attrs, const Dynamic& x, bool dilations) {
  const size_t rank = x.sample.size() - 1;
  const auto kernel = window_attribute(attrs, "kernel_shape", rank, std::nullopt, 1);
  const auto stride = window_attribute(attrs, "strides", rank, 1, 1);
  const auto dilation = dilations ? window_attribute(attrs, "dilations", rank, 1, 1)
                                  : std::vector<int64_t>(rank, 1);
  const WindowPads pads = window_pads(attrs, Shape(x.sample.begin() + 1, x.sample.end()),
                                      kernel, stride, dilation);
  std::vector<PoolAxis> axes(rank);
  for (size_t i = 0; i < rank; ++i)
    axes[i] = {kernel[i], stride[i], dilation[i], pads.begin[i], pads.end[i]};
  return axes;
}

// Emits shrink's 2-D pool `type` over the last two axes of x (per-sample [C', H, W]) and returns
// the result (a copy: the next node of the same ONNX node replaces it).
Dynamic emit_pool2d(Importer& im, const onnx::NodeProto& node, const std::string& type,
                           const Dynamic& x, const PoolAxis& h, const PoolAxis& w,
                           Json attributes) {
  attributes["kernel_size"] = Json::array({h.kernel, w.kernel});
  attributes["stride"] = Json::array({h.stride, w.stride});
  attributes["padding"] = Json::array({h.begin, w.begin});
  if (h.end != h.begin || w.end != w.begin) attributes["padding_end"] = Json::array({h.end, w.end});
  if (h.dilation != 1 || w.dilation != 1)
    attributes["dilation"] = Json::array({h.dilation, w.dilation});
  im.emit(node, type, std::move(attributes), {x.source});
  return im.dynamic(node.output(0));
}

Dynamic reshaped(Importer& im, const onnx::NodeProto& node, const Dynamic& x,
                        const Shape& sample) {
  im.emit_reshape(node, x, sample);
  return im.dynamic(node.output(0));
}

// An ONNX pool of 1, 2 or 3 spatial axes on shrink's 2-D pools: 1-D pools [C, L] as [C, 1, L];
// 3-D pools [C, D, H, W] over (H, W) as [C*D, H, W], then over D as [C, D, H'*W'] (max and
// average are separable over a box: the real pixels of a box window are the product of those of
// its axes, and so is the count include_pad divides by).
void emit_pool(Importer& im, const onnx::NodeProto& node, const std::string& type,
               const Dynamic& x, const std::vector<PoolAxis>& axes, const Json& attributes) {
  const Shape& s = x.sample;
  if (axes.size() == 2) {
    emit_pool2d(im, node, type, x, axes[0], axes[1], attributes);
  } else if (axes.size() == 1) {
    const Dynamic planes = reshaped(im, node, x, {s[0], 1, s[1]});
    const Dynamic y = emit_pool2d(im, node, type, planes, PoolAxis{}, axes[0], attributes);
    reshaped(im, node, y, {s[0], y.sample[2]});
  } else if (axes.size() == 3) {
    const Dynamic slices = reshaped(im, node, x, {s[0] * s[1], s[2], s[3]});
    const Dynamic hw = emit_pool2d(im, node, type, slices, axes[1], axes[2], attributes);
    const int64_t oh = hw.sample[1], ow = hw.sample[2];
    const Dynamic depth = reshaped(im, node, hw, {s[0], s[1], oh * ow});
    const Dynamic y = emit_pool2d(im, node, type, depth, axes[0], PoolAxis{}, attributes);
    reshaped(im, node, y, {s[0], y.sample[1], oh, ow});
  } else {
    throw Error::bad_input("input has per-sample shape " + to_string(s) + "; shrink pools " +
                           "[N, C, L], [N, C, H, W] and [N, C, D, H, W]");
  }
}

void max_pool(Importer& im, const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads",
                    "storage_order", "strides"});
  const Dynamic& x = im.batch_first(node, 0);
  if (x.sample.size() < 2)
    throw Error::bad_input("input has per-sample shape " + to_string(x.sample) +
                           "; shrink pools [N, C, L], [N, C, H, W] and [N, C, D, H, W]");
  Json attributes = Json::object();
  if (attrs.get_int("ceil_mode", 0) != 0) attributes["ceil_mode"] = true;
  emit_pool(im, node, "MaxPool2d", x, pool_axes(attrs, x, true), attributes);
}

void average_pool(Importer& im, const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads",
                    "strides"});
  std::array<int64_t, 2> extra{};
  const Dynamic& x = im.padded_input(node, 0, extra);
  if (x.sample.size() < 2)
    throw Error::bad_input("input has per-sample shape " + to_string(x.sample) +
                           "; shrink pools [N, C, L], [N, C, H, W] and [N, C, D, H, W]");
  std::vector<PoolAxis> axes = pool_axes(attrs, x, false);
  bool count_include_pad = attrs.get_int("count_include_pad", 0) != 0;
  if (extra != std::array<int64_t, 2>{0, 0}) {
    // Zeros from a Pad node are real pixels to AveragePool: they count in every window.
    bool padded = false;
    for (const PoolAxis& a : axes) padded = padded || a.begin != 0 || a.end != 0;
    if (attrs.get_string("auto_pad", "NOTSET") != "NOTSET" || (!count_include_pad && padded))
      throw Error::bad_input("padding from a Pad node combined with count_include_pad=0 padding "
                             "is not supported");
    for (size_t i = 0; i < 2; ++i) {
      axes[i].begin += extra[i];
      axes[i].end += extra[i];
    }
    count_include_pad = true;
  }
  Json attributes = {{"count_include_pad", count_include_pad}};
  if (attrs.get_int("ceil_mode", 0) != 0) attributes["ceil_mode"] = true;
  emit_pool(im, node, "AvgPool2d", x, axes, attributes);
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
