// Constant folding at import: the subgraphs of an ONNX file that do not depend on the input
// (Constant nodes, initializer arithmetic, the Shape -> Gather -> Concat -> Reshape chains that
// exporters write for x.view(x.size(0), -1)) are evaluated once here, so the Model only holds
// ops that touch activations.
#include "io/onnx_import_support.hpp"

#include "shrink/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <numeric>

namespace shrink::onnx_io {
namespace {

std::vector<int64_t> strides_of(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return strides;
}

// Index of output element `flat` (in `out_shape`) in an operand of `shape`, broadcast numpy-style.
int64_t broadcast_index(int64_t flat, const Shape& out_shape, const Shape& shape) {
  int64_t index = 0, stride = 1;
  const size_t lead = out_shape.size() - shape.size();
  for (size_t d = out_shape.size(); d-- > 0;) {
    const int64_t coord = flat % out_shape[d];
    flat /= out_shape[d];
    if (d < lead) continue;
    const int64_t size = shape[d - lead];
    if (size != 1) index += coord * stride;
    stride *= size;
  }
  return index;
}

void require_no_batch(const Constant& c, const std::string& op) {
  if (c.has_batch())
    throw Error::bad_input(op + " computes with the batch size, which is only known when the "
                                "model runs; shrink keeps the batch dimension symbolic");
}

const Constant& input(const std::vector<const Constant*>& inputs, size_t i, const std::string& op) {
  if (i >= inputs.size() || inputs[i] == nullptr)
    throw Error::bad_input(op + " is missing its input " + std::to_string(i));
  return *inputs[i];
}

std::vector<int64_t> ints_of(const Constant& c, const std::string& what) {
  if (!c.is_integer) throw Error::bad_input(what + " must be an integer tensor");
  require_no_batch(c, what);
  return c.to_ints();
}

// Gathers elements of `c` at `indices` (flat source positions), keeping batch marks.
Constant take(const Constant& c, const std::vector<int64_t>& indices, Shape shape) {
  Constant out;
  out.is_integer = c.is_integer;
  out.shape = std::move(shape);
  out.values.reserve(indices.size());
  for (int64_t i : indices) out.values.push_back(c.values[static_cast<size_t>(i)]);
  if (c.has_batch()) {
    out.batch.reserve(indices.size());
    for (int64_t i : indices) out.batch.push_back(c.batch[static_cast<size_t>(i)]);
  }
  return out;
}

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), int64_t{0});
  return v;
}

Constant reshaped(const Constant& c, Shape shape) {
  Constant out = c;
  out.shape = std::move(shape);
  return out;
}

// The axes of Squeeze/Unsqueeze/ReduceX: an attribute before opset 13, an input from 13 on.
std::vector<int64_t> axes_of(const onnx::NodeProto& node, int opset,
                             const std::vector<const Constant*>& inputs, const Attributes& attrs) {
  if (opset < 13 || attrs.has("axes")) return attrs.get_ints("axes");
  if (inputs.size() > 1 && inputs[1] != nullptr) return ints_of(*inputs[1], node.op_type() + " axes");
  return {};
}

Constant fold_binary(const std::string& op, const Constant& a, const Constant& b) {
  require_no_batch(a, op);
  require_no_batch(b, op);
  Constant out;
  out.is_integer = a.is_integer && b.is_integer;
  out.shape = broadcast_shape(a.shape, b.shape);
  const int64_t n = element_count(out.shape);
  out.values.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double x = a.values[static_cast<size_t>(broadcast_index(i, out.shape, a.shape))];
    const double y = b.values[static_cast<size_t>(broadcast_index(i, out.shape, b.shape))];
    double r = 0;
    if (op == "Add") r = x + y;
    else if (op == "Sub") r = x - y;
    else if (op == "Mul") r = x * y;
    else if (op == "Div") {
      if (out.is_integer && y == 0) throw Error::bad_input("integer Div by zero");
      r = out.is_integer ? std::trunc(x / y) : x / y;
    } else if (op == "Pow") r = std::pow(x, y);
    if (!out.is_integer) r = static_cast<float>(r);  // float32 arithmetic, as a runtime does
    out.values[static_cast<size_t>(i)] = r;
  }
  return out;
}

Constant fold_constant(const Attributes& attrs) {
  attrs.allow_only({"value", "value_float", "value_floats", "value_int", "value_ints"});
  if (const onnx::TensorProto* t = attrs.get_tensor("value"))
    return constant_from_proto(*t, "", "Constant value");
  if (attrs.has("value_float")) return float_constant(Tensor({}, {attrs.get_float("value_float", 0)}));
  if (attrs.has("value_floats")) {
    std::vector<float> v = attrs.get_floats("value_floats");
    const int64_t n = static_cast<int64_t>(v.size());
    return float_constant(Tensor({n}, std::move(v)));
  }
  if (attrs.has("value_int")) return int_constant({attrs.get_int("value_int", 0)}, {});
  if (attrs.has("value_ints")) {
    std::vector<int64_t> v = attrs.get_ints("value_ints");
    const int64_t n = static_cast<int64_t>(v.size());
    return int_constant(v, {n});
  }
  throw Error::bad_input("Constant has no value attribute shrink reads (value, value_float(s), "
                         "value_int(s))");
}

Constant fold_cast(const Constant& x, const Attributes& attrs) {
  attrs.allow_only({"to", "saturate"});
  const int to = static_cast<int>(attrs.get_int("to", 0));
  Constant out = x;
  switch (to) {
    case onnx::TensorProto_DataType_FLOAT:
      require_no_batch(x, "Cast to float");
      out.is_integer = false;
      for (double& v : out.values) v = static_cast<float>(v);
      break;
    case onnx::TensorProto_DataType_DOUBLE:
      require_no_batch(x, "Cast to double");
      out.is_integer = false;
      break;
    case onnx::TensorProto_DataType_INT64:
    case onnx::TensorProto_DataType_INT32:
      out.is_integer = true;
      for (double& v : out.values) v = std::trunc(v);
      break;
    case onnx::TensorProto_DataType_BOOL:
      require_no_batch(x, "Cast to bool");
      out.is_integer = true;
      for (double& v : out.values) v = v != 0 ? 1 : 0;
      break;
    default:
      throw Error::bad_input("Cast to " + data_type_name(to) + " is not supported");
  }
  return out;
}

Constant fold_gather(const Constant& data, const Constant& indices_c, const Attributes& attrs) {
  attrs.allow_only({"axis"});
  const int64_t rank = static_cast<int64_t>(data.shape.size());
  const int64_t axis = normalize_axis(attrs.get_int("axis", 0), rank, "Gather axis");
  const std::vector<int64_t> indices = ints_of(indices_c, "Gather indices");
  const int64_t size = data.shape[static_cast<size_t>(axis)];
  Shape shape(data.shape.begin(), data.shape.begin() + axis);
  shape.insert(shape.end(), indices_c.shape.begin(), indices_c.shape.end());
  shape.insert(shape.end(), data.shape.begin() + axis + 1, data.shape.end());
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= data.shape[static_cast<size_t>(d)];
  for (int64_t d = axis + 1; d < rank; ++d) inner *= data.shape[static_cast<size_t>(d)];
  std::vector<int64_t> positions;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t index : indices) {
      const int64_t k = index < 0 ? index + size : index;
      if (k < 0 || k >= size)
        throw Error::bad_input("Gather index " + std::to_string(index) + " is out of range for " +
                               "a dimension of size " + std::to_string(size));
      for (int64_t i = 0; i < inner; ++i) positions.push_back((o * size + k) * inner + i);
    }
  return take(data, positions, shape);
}

Constant fold_unsqueeze(const Constant& x, std::vector<int64_t> axes) {
  const int64_t rank = static_cast<int64_t>(x.shape.size() + axes.size());
  for (int64_t& a : axes) a = normalize_axis(a, rank, "Unsqueeze axis");
  std::sort(axes.begin(), axes.end());
  Shape shape;
  size_t source = 0;
  for (int64_t d = 0; d < rank; ++d) {
    if (std::binary_search(axes.begin(), axes.end(), d)) shape.push_back(1);
    else shape.push_back(x.shape.at(source++));
  }
  return reshaped(x, shape);
}

Constant fold_squeeze(const Constant& x, std::vector<int64_t> axes) {
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  for (int64_t& a : axes) a = normalize_axis(a, rank, "Squeeze axis");
  Shape shape;
  for (int64_t d = 0; d < rank; ++d) {
    const int64_t size = x.shape[static_cast<size_t>(d)];
    const bool listed = std::find(axes.begin(), axes.end(), d) != axes.end();
    if (listed && size != 1)
      throw Error::bad_input("Squeeze axis " + std::to_string(d) + " has size " +
                             std::to_string(size) + ", not 1");
    if (listed || (axes.empty() && size == 1)) continue;
    shape.push_back(size);
  }
  return reshaped(x, shape);
}

Constant fold_concat(const std::vector<const Constant*>& inputs, const Attributes& attrs) {
  attrs.allow_only({"axis"});
  const Constant& first = input(inputs, 0, "Concat");
  const int64_t rank = static_cast<int64_t>(first.shape.size());
  const int64_t axis = normalize_axis(attrs.get_int("axis", 0), rank, "Concat axis");
  Constant out;
  out.is_integer = first.is_integer;
  out.shape = first.shape;
  out.shape[static_cast<size_t>(axis)] = 0;
  bool any_batch = false;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Constant& c = input(inputs, i, "Concat");
    if (static_cast<int64_t>(c.shape.size()) != rank)
      throw Error::bad_input("Concat inputs have different ranks");
    out.shape[static_cast<size_t>(axis)] += c.shape[static_cast<size_t>(axis)];
    any_batch = any_batch || c.has_batch();
  }
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= first.shape[static_cast<size_t>(d)];
  for (int64_t o = 0; o < outer; ++o)
    for (const Constant* c : inputs) {
      const int64_t block = c->numel() / std::max<int64_t>(outer, 1);
      for (int64_t i = 0; i < block; ++i) {
        out.values.push_back(c->values[static_cast<size_t>(o * block + i)]);
        if (any_batch) out.batch.push_back(c->is_batch(o * block + i));
      }
    }
  return out;
}

Constant fold_reshape(const Constant& x, const Constant& shape_c, bool allow_zero) {
  std::vector<int64_t> target = ints_of(shape_c, "Reshape shape");
  int64_t infer = -1, known = 1;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == 0 && !allow_zero) target[i] = x.shape.at(i);
    if (target[i] == -1) {
      if (infer >= 0) throw Error::bad_input("Reshape shape has more than one -1");
      infer = static_cast<int64_t>(i);
    } else {
      known *= target[i];
    }
  }
  if (infer >= 0) target[static_cast<size_t>(infer)] = known ? x.numel() / known : 0;
  if (element_count(target) != x.numel())
    throw Error::bad_input("cannot reshape " + to_string(x.shape) + " to " + to_string(target));
  return reshaped(x, target);
}

Constant fold_transpose(const Constant& x, const Attributes& attrs) {
  attrs.allow_only({"perm"});
  const size_t rank = x.shape.size();
  std::vector<int64_t> perm = attrs.get_ints("perm");
  if (perm.empty())
    for (size_t i = 0; i < rank; ++i) perm.push_back(static_cast<int64_t>(rank - 1 - i));
  if (perm.size() != rank) throw Error::bad_input("Transpose perm does not match the rank");
  Shape shape(rank);
  for (size_t i = 0; i < rank; ++i) shape[i] = x.shape.at(static_cast<size_t>(perm[i]));
  const auto in_strides = strides_of(x.shape);
  std::vector<int64_t> positions(static_cast<size_t>(x.numel()));
  for (int64_t flat = 0; flat < x.numel(); ++flat) {
    int64_t rest = flat, source = 0;
    for (size_t d = rank; d-- > 0;) {
      source += (rest % shape[d]) * in_strides[static_cast<size_t>(perm[d])];
      rest /= shape[d];
    }
    positions[static_cast<size_t>(flat)] = source;
  }
  return take(x, positions, shape);
}

Constant fold_slice(const onnx::NodeProto& node, int opset, const std::vector<const Constant*>& in,
                    const Attributes& attrs) {
  const Constant& x = input(in, 0, "Slice");
  std::vector<int64_t> starts, ends, axes, steps;
  if (opset < 10) {
    attrs.allow_only({"starts", "ends", "axes"});
    starts = attrs.get_ints("starts");
    ends = attrs.get_ints("ends");
    axes = attrs.get_ints("axes");
  } else {
    attrs.allow_only({});
    starts = ints_of(input(in, 1, "Slice"), "Slice starts");
    ends = ints_of(input(in, 2, "Slice"), "Slice ends");
    if (in.size() > 3 && in[3]) axes = ints_of(*in[3], "Slice axes");
    if (in.size() > 4 && in[4]) steps = ints_of(*in[4], "Slice steps");
  }
  (void)node;
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  if (axes.empty()) axes = iota(static_cast<int64_t>(starts.size()));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    throw Error::bad_input("Slice starts, ends, axes and steps differ in length");
  std::vector<int64_t> begin(static_cast<size_t>(rank), 0), step(static_cast<size_t>(rank), 1);
  Shape shape = x.shape;
  for (size_t i = 0; i < starts.size(); ++i) {
    const size_t a = static_cast<size_t>(normalize_axis(axes[i], rank, "Slice axis"));
    const int64_t size = x.shape[a], s = steps[i];
    if (s == 0) throw Error::bad_input("Slice step 0");
    auto clamp = [&](int64_t v, bool is_end) {
      if (v < 0) v += size;
      if (s > 0) return std::clamp<int64_t>(v, 0, size);
      return std::clamp<int64_t>(v, is_end ? -1 : 0, size - 1);
    };
    const int64_t b = clamp(starts[i], false), e = clamp(ends[i], true);
    const int64_t count = s > 0 ? std::max<int64_t>(0, (e - b + s - 1) / s)
                                : std::max<int64_t>(0, (b - e - s - 1) / -s);
    begin[a] = b;
    step[a] = s;
    shape[a] = count;
  }
  const auto in_strides = strides_of(x.shape);
  const int64_t n = element_count(shape);
  std::vector<int64_t> positions(static_cast<size_t>(n));
  for (int64_t flat = 0; flat < n; ++flat) {
    int64_t rest = flat, source = 0;
    for (size_t d = static_cast<size_t>(rank); d-- > 0;) {
      source += (begin[d] + (rest % shape[d]) * step[d]) * in_strides[d];
      rest /= shape[d];
    }
    positions[static_cast<size_t>(flat)] = source;
  }
  return take(x, positions, shape);
}

Constant fold_shape(const Constant& x, const Attributes& attrs) {
  attrs.allow_only({"start", "end"});
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  int64_t start = attrs.get_int("start", 0), end = attrs.get_int("end", rank);
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, start, rank);
  std::vector<int64_t> dims(x.shape.begin() + start, x.shape.begin() + end);
  Constant out = int_constant(dims, {end - start});
  if (x.has_batch()) throw Error::bad_input("Shape of a batch-dependent constant");
  return out;
}

const std::map<std::string, std::function<double(double)>>& unary_ops() {
  static const std::map<std::string, std::function<double(double)>> ops = {
      {"Neg", [](double v) { return -v; }},
      {"Abs", [](double v) { return std::abs(v); }},
      {"Sqrt", [](double v) { return std::sqrt(v); }},
      {"Reciprocal", [](double v) { return 1.0 / v; }},
      {"Exp", [](double v) { return std::exp(v); }},
      {"Log", [](double v) { return std::log(v); }},
      {"Floor", [](double v) { return std::floor(v); }},
      {"Ceil", [](double v) { return std::ceil(v); }},
      {"Relu", [](double v) { return std::max(v, 0.0); }},
      {"Sigmoid", [](double v) { return 1.0 / (1.0 + std::exp(-v)); }},
      {"Tanh", [](double v) { return std::tanh(v); }},
  };
  return ops;
}

}  // namespace

int64_t normalize_axis(int64_t axis, int64_t rank, const std::string& what) {
  const int64_t resolved = axis < 0 ? axis + rank : axis;
  if (resolved < 0 || resolved >= rank)
    throw Error::bad_input(what + " " + std::to_string(axis) + " is out of range for rank " +
                           std::to_string(rank));
  return resolved;
}

Shape broadcast_shape(const Shape& a, const Shape& b) {
  Shape out(std::max(a.size(), b.size()));
  for (size_t i = 0; i < out.size(); ++i) {
    const int64_t da = i < out.size() - a.size() ? 1 : a[i - (out.size() - a.size())];
    const int64_t db = i < out.size() - b.size() ? 1 : b[i - (out.size() - b.size())];
    if (da != db && da != 1 && db != 1)
      throw Error::bad_input("shapes " + to_string(a) + " and " + to_string(b) +
                             " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

bool fold_constant_node(const onnx::NodeProto& node, int opset,
                        const std::vector<const Constant*>& in, std::vector<Constant>& out) {
  const std::string& op = node.op_type();
  const Attributes attrs(node);
  out.clear();
  if (op == "Constant") {
    out.push_back(fold_constant(attrs));
  } else if (op == "Identity") {
    attrs.allow_only({});
    out.push_back(input(in, 0, op));
  } else if (op == "Cast") {
    out.push_back(fold_cast(input(in, 0, op), attrs));
  } else if (op == "Shape") {
    out.push_back(fold_shape(input(in, 0, op), attrs));
  } else if (op == "Gather") {
    out.push_back(fold_gather(input(in, 0, op), input(in, 1, op), attrs));
  } else if (op == "Unsqueeze") {
    attrs.allow_only({"axes"});
    out.push_back(fold_unsqueeze(input(in, 0, op), axes_of(node, opset, in, attrs)));
  } else if (op == "Squeeze") {
    attrs.allow_only({"axes"});
    out.push_back(fold_squeeze(input(in, 0, op), axes_of(node, opset, in, attrs)));
  } else if (op == "Concat") {
    out.push_back(fold_concat(in, attrs));
  } else if (op == "Reshape") {
    attrs.allow_only({"allowzero"});
    out.push_back(fold_reshape(input(in, 0, op), input(in, 1, op), attrs.get_int("allowzero", 0)));
  } else if (op == "Flatten") {
    attrs.allow_only({"axis"});
    const Constant& x = input(in, 0, op);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    int64_t axis = attrs.get_int("axis", 1);
    if (axis < 0) axis += rank;
    int64_t outer = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= x.shape.at(static_cast<size_t>(d));
    out.push_back(reshaped(x, {outer, outer ? x.numel() / outer : 0}));
  } else if (op == "Transpose") {
    out.push_back(fold_transpose(input(in, 0, op), attrs));
  } else if (op == "Slice") {
    out.push_back(fold_slice(node, opset, in, attrs));
  } else if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Pow") {
    attrs.allow_only({});
    out.push_back(fold_binary(op, input(in, 0, op), input(in, 1, op)));
  } else if (op == "ConstantOfShape") {
    attrs.allow_only({"value"});
    const std::vector<int64_t> shape = ints_of(input(in, 0, op), "ConstantOfShape shape");
    Constant fill = float_constant(Tensor({1}, {0.0f}));
    if (const onnx::TensorProto* t = attrs.get_tensor("value"))
      fill = constant_from_proto(*t, "", "ConstantOfShape value");
    Constant c;
    c.is_integer = fill.is_integer;
    c.shape = Shape(shape.begin(), shape.end());
    c.values.assign(static_cast<size_t>(element_count(c.shape)), fill.values.at(0));
    out.push_back(std::move(c));
  } else if (auto it = unary_ops().find(op); it != unary_ops().end()) {
    attrs.allow_only({});
    Constant c = input(in, 0, op);
    require_no_batch(c, op);
    for (double& v : c.values) v = it->second(v);
    if (!c.is_integer)
      for (double& v : c.values) v = static_cast<float>(v);
    out.push_back(std::move(c));
  } else {
    return false;
  }
  return true;
}

}  // namespace shrink::onnx_io
