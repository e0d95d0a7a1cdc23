// Operators that move or reshape data: Flatten, Reshape, Squeeze/Unsqueeze, Transpose, Concat,
// Shape (a constant of the graph's shapes, batch marked) and Pad (folded into the next window).
#include "io/onnx/op_importers.hpp"
#include "shrink/core/error.hpp"

#include <algorithm>

namespace shrink::onnx_io {
namespace {

void flatten(Importer& im, const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"axis"});
  const Dynamic& x = im.batch_first(node, 0);
  const int64_t rank = static_cast<int64_t>(x.sample.size()) + 1;
  int64_t axis = attrs.get_int("axis", 1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis > rank)
    throw Error::bad_input("axis " + std::to_string(attrs.get_int("axis", 1)) +
                           " is out of range for rank " + std::to_string(rank));
  if (axis == 1) return im.emit_reshape(node, x, {element_count(x.sample)});
  // [d0 * ... * d(axis-1), the rest]: the batch axis merges with others, or (axis 0) all of it
  // becomes one row.
  const int64_t rest = element_count(Shape(x.sample.begin() + (axis == 0 ? 0 : axis - 1),
                                           x.sample.end()));
  im.emit_across_batch(node, "Reshape",
                       {{"shape", axis == 0 ? std::vector<int64_t>{1, -1}
                                            : std::vector<int64_t>{-1, rest}}},
                       {x.source},
                       "axis " + std::to_string(attrs.get_int("axis", 1)) +
                           " merges the batch axis with others");
}

void reshape(Importer& im, const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"allowzero"});
  const bool allow_zero = attrs.get_int("allowzero", 0) != 0;
  const Dynamic& x = im.batch_first(node, 0);
  const Constant& target = im.required_constant(node, 1, "shape");
  const std::vector<int64_t> t = target.to_ints();
  const std::string context = "target shape " + to_string(t);
  if (t.empty()) throw Error::bad_input("the target shape is empty; the batch axis must stay");
  const bool first_is_batch = target.is_batch(0) || (t[0] == 0 && !allow_zero) ||
                              t[0] == -1 || (im.fixed_batch() && t[0] == *im.fixed_batch());
  if (!first_is_batch)
    throw Error::bad_input(context + " changes the batch axis 0; shrink keeps it first");
  Shape sample;
  int64_t infer = -1;
  for (size_t i = 1; i < t.size(); ++i) {
    int64_t d = t[i];
    if (target.is_batch(static_cast<int64_t>(i)))
      throw Error::bad_input(context + " moves the batch size to axis " + std::to_string(i));
    if (d == 0 && !allow_zero) {
      if (i - 1 >= x.sample.size())
        throw Error::bad_input(context + ": 0 at axis " + std::to_string(i) +
                               " has no input axis to copy");
      d = x.sample[i - 1];
    }
    if (d == -1) {
      if (infer >= 0 || t[0] == -1) throw Error::bad_input(context + " has more than one -1");
      infer = static_cast<int64_t>(sample.size());
      sample.push_back(1);
      continue;
    }
    if (d < 0) throw Error::bad_input(context + " has a negative size");
    sample.push_back(d);
  }
  const int64_t numel = element_count(x.sample);
  // Counted through element_count, which refuses a target whose sizes overflow int64.
  const int64_t known = element_count(sample);
  if (infer >= 0) {
    if (known == 0 || numel % known != 0)
      throw Error::bad_input(context + " cannot hold the " + std::to_string(numel) +
                             " elements of a sample");
    sample[static_cast<size_t>(infer)] = numel / known;
  }
  if (element_count(sample) != numel)
    throw Error::bad_input(context + " does not keep the batch axis: a sample has " +
                           std::to_string(numel) + " elements, the target " +
                           std::to_string(element_count(sample)) + " per batch entry");
  im.emit_reshape(node, x, sample);
}

void squeeze(Importer& im, const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"axes"});
  const Dynamic& x = im.batch_first(node, 0);
  std::vector<int64_t> axes;
  if (im.opset() < 13 || attrs.has("axes")) axes = attrs.get_ints("axes");
  else if (node.input_size() > 1 && !node.input(1).empty())
    axes = im.required_constant(node, 1, "axes").to_ints();
  const bool unsqueeze = node.op_type() == "Unsqueeze";
  const int64_t rank = static_cast<int64_t>(x.sample.size()) + 1 +
                       (unsqueeze ? static_cast<int64_t>(axes.size()) : 0);
  for (int64_t& a : axes) {
    a = onnx_io::normalize_axis(a, rank, "axis");
    if (a == 0) throw Error::bad_input("axis 0 is the batch axis, which stays first");
  }
  Shape full{1};
  full.insert(full.end(), x.sample.begin(), x.sample.end());
  Shape out;
  if (unsqueeze) {
    size_t source = 0;
    for (int64_t d = 0; d < rank; ++d)
      out.push_back(std::find(axes.begin(), axes.end(), d) != axes.end() ? 1 : full.at(source++));
  } else {
    for (int64_t d = 0; d < rank; ++d) {
      const bool listed = std::find(axes.begin(), axes.end(), d) != axes.end();
      if (listed && full[static_cast<size_t>(d)] != 1)
        throw Error::bad_input("axis " + std::to_string(d) + " has size " +
                               std::to_string(full[static_cast<size_t>(d)]) + ", not 1");
      if (d > 0 && (listed || (axes.empty() && full[static_cast<size_t>(d)] == 1))) continue;
      out.push_back(full[static_cast<size_t>(d)]);
    }
  }
  im.emit_reshape(node, x, Shape(out.begin() + 1, out.end()));
}

void transpose(Importer& im, const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"perm"});
  if (!im.is_dynamic(node, 0)) im.batch_first(node, 0);  // throws with the reason
  const Dynamic& x = im.dynamic(node.input(0));
  const Shape& source_sample = im.value_shape(x.source);
  const int64_t rank = static_cast<int64_t>(source_sample.size()) + 1;
  std::vector<int64_t> perm = attrs.get_ints("perm");
  if (perm.empty())
    for (int64_t i = rank - 1; i >= 0; --i) perm.push_back(i);
  if (static_cast<int64_t>(perm.size()) != rank)
    throw Error::bad_input("perm " + to_string(perm) + " does not match rank " + std::to_string(rank));
  // Compose with a pending transpose so the result is relative to the batch-first source.
  std::vector<int64_t> composed(perm.size());
  for (size_t i = 0; i < perm.size(); ++i)
    composed[i] = x.perm.empty() ? perm[i] : x.perm.at(static_cast<size_t>(perm[i]));
  bool identity = true;
  for (size_t i = 0; i < composed.size(); ++i) identity = identity && composed[i] == static_cast<int64_t>(i);
  if (identity) return im.alias(node, Dynamic{x.source, source_sample, {}});
  if (composed[0] != 0) {
    // The graph output: transposed across the batch axis. Elsewhere a pending transpose that
    // Gemm(transA=1) or a second Transpose can consume.
    if (im.is_graph_output(node.output(0)))
      return im.emit_across_batch(node, "Transpose", {{"perm", composed}}, {x.source},
                                  "perm " + to_string(composed) + " moves the batch axis");
    im.alias(node, Dynamic{x.source, {}, composed});
    return;
  }
  im.emit(node, "Transpose", {{"perm", composed}}, {x.source});
}

void concat(Importer& im, const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"axis"});
  std::vector<std::string> inputs;
  int64_t rank = 0;
  for (int i = 0; i < node.input_size(); ++i) {
    const Dynamic& x = im.batch_first(node, i);
    rank = static_cast<int64_t>(x.sample.size()) + 1;
    inputs.push_back(x.source);
  }
  const int64_t axis = onnx_io::normalize_axis(attrs.get_int("axis", 0), rank, "axis");
  if (axis == 0)
    return im.emit_across_batch(node, "Concat", {{"axis", 0}}, inputs,
                                "axis 0 concatenates along the batch axis");
  im.emit(node, "Concat", {{"axis", axis}}, inputs);
}

void shape(Importer& im, const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"start", "end"});
  const Dynamic& x = im.batch_first(node, 0);
  std::vector<int64_t> dims{1};
  dims.insert(dims.end(), x.sample.begin(), x.sample.end());
  const int64_t rank = static_cast<int64_t>(dims.size());
  int64_t start = attrs.get_int("start", 0), end = attrs.get_int("end", rank);
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, start, rank);
  Constant c = onnx_io::int_constant(std::vector<int64_t>(dims.begin() + start, dims.begin() + end),
                                     {end - start});
  c.batch.assign(c.ints.size(), 0);
  if (start == 0 && end > 0) c.batch[0] = 1;
  im.define_constant(node.output(0), std::move(c));
}

void pad(Importer& im, const onnx::NodeProto& node, const Attributes& attrs) {
  std::vector<int64_t> pads;
  float value = 0.0f;
  std::string mode = attrs.get_string("mode", "constant");
  if (im.opset() < 11) {
    attrs.allow_only({"mode", "pads", "value"});
    pads = attrs.get_ints("pads");
    value = attrs.get_float("value", 0.0f);
  } else {
    attrs.allow_only({"mode"});
    pads = im.required_constant(node, 1, "pads").to_ints();
    if (node.input_size() > 2 && !node.input(2).empty())
      value = static_cast<float>(
          im.required_constant(node, 2, "constant_value").scalar("constant_value"));
    if (node.input_size() > 3 && !node.input(3).empty())
      throw Error::bad_input("the axes input is not supported; list pads for every axis");
  }
  const Dynamic& x = im.batch_first(node, 0);
  if (mode != "constant" || value != 0.0f)
    throw Error::bad_input("mode '" + mode + "' with value " + std::to_string(value) +
                           " is not supported; shrink folds zero padding into the next "
                           "Conv or AveragePool");
  if (x.sample.size() != 3 || pads.size() != 8 || pads[0] || pads[1] || pads[4] || pads[5] ||
      pads[2] != pads[6] || pads[3] != pads[7] || pads[2] < 0 || pads[3] < 0)
    throw Error::bad_input("pads " + to_string(pads) + " on per-sample shape " +
                           to_string(x.sample) + " are not a symmetric zero padding of H and "
                           "W; shrink folds only that into the next Conv or AveragePool");
  Dynamic padded = x;
  padded.zero_pad = {pads[2], pads[3]};
  im.alias(node, padded);
}

}  // namespace

void add_shape_importers(OpImporterTable& table) {
  table["Flatten"] = flatten;
  table["Reshape"] = reshape;
  table["Squeeze"] = squeeze;
  table["Unsqueeze"] = squeeze;
  table["Transpose"] = transpose;
  table["Concat"] = concat;
  table["Shape"] = shape;
  table["Pad"] = pad;
}

}  // namespace shrink::onnx_io
