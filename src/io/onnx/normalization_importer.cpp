// BatchNormalization (inference form), Softmax and LogSoftmax.
#include "io/onnx/op_importers.hpp"
#include "shrink/core/error.hpp"

#include <cmath>

namespace shrink::onnx_io {
namespace {

void batch_norm(Importer& im, const onnx::NodeProto& node, const Attributes& attrs) {
  // Opsets 7 and 8 have spatial (1: per channel, the only form shrink has); before 7 also
  // is_test, which check_older_form has made sure is 1.
  if (im.opset() < 9) {
    attrs.allow_only({"epsilon", "momentum", "is_test", "spatial"});
    if (attrs.get_int("spatial", 1) != 1)
      throw Error::bad_input("spatial=0 normalizes every element separately; shrink supports "
                             "spatial=1 (per channel)");
  } else {
    attrs.allow_only({"epsilon", "momentum", "training_mode"});
  }
  if (attrs.get_int("training_mode", 0) != 0)
    throw Error::bad_input("training_mode=1 normalizes with batch statistics; shrink supports "
                           "training_mode=0 (running statistics): export the model in eval mode");
  const Dynamic& x = im.batch_first(node, 0);
  const char* type = x.sample.size() == 3 ? "BatchNorm2d" : "BatchNorm1d";
  if (x.sample.size() < 1 || x.sample.size() > 3)
    throw Error::bad_input("input has per-sample shape " + to_string(x.sample) +
                           "; shrink supports [N, C], [N, C, L] and [N, C, H, W]");
  // ONNX's momentum weighs the old running value; PyTorch's weighs the new batch statistic.
  // Rounded to 1e-6 so 0.9f reads back as 0.1 and survives export/import unchanged.
  const double momentum = std::round((1.0 - attrs.get_float("momentum", 0.9f)) * 1e6) / 1e6;
  im.emit(node, type,
          {{"eps", attrs.get_float("epsilon", 1e-5f)}, {"momentum", momentum}},
          {x.source},
          {{"weight", im.required_constant(node, 1, "scale").to_tensor()},
           {"bias", im.required_constant(node, 2, "bias").to_tensor()},
           {"running_mean", im.required_constant(node, 3, "mean").to_tensor()},
           {"running_var", im.required_constant(node, 4, "variance").to_tensor()}},
          node.input(1));
}

void softmax(Importer& im, const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"axis"});
  const Dynamic& x = im.batch_first(node, 0);
  const int64_t rank = static_cast<int64_t>(x.sample.size()) + 1;
  const int64_t axis =
      onnx_io::normalize_axis(attrs.get_int("axis", im.opset() < 13 ? 1 : -1), rank, "axis");
  if (axis == 0 && im.opset() >= 13)
    return im.emit_across_batch(node, node.op_type(), {{"dim", 0}}, {x.source},
                                "axis 0 normalizes across the batch");
  if (im.opset() < 13 && axis != rank - 1)
    throw Error::bad_input("before opset 13 " + node.op_type() + " flattens the axes from " +
                           std::to_string(axis) + " on; shrink supports the last axis there");
  im.emit(node, node.op_type() == "Softmax" ? "Softmax" : "LogSoftmax", {{"dim", axis}},
          {x.source});
}

}  // namespace

void add_normalization_importers(OpImporterTable& table) {
  table["BatchNormalization"] = batch_norm;
  table["Softmax"] = softmax;
  table["LogSoftmax"] = softmax;
}

}  // namespace shrink::onnx_io
