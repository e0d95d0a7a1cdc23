// Constant folding at import: the subgraphs of an ONNX file that do not depend on the input
// (Constant nodes, initializer arithmetic, the Shape -> Gather -> Concat -> Reshape chains that
// exporters write for x.view(x.size(0), -1)) are evaluated once here, so the Model only holds
// ops that touch activations.
#include "io/onnx/import_support.hpp"

#include "shrink/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
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

// Folding can make a constant far larger than the file (ConstantOfShape, a broadcast of [n, 1]
// and [1, n]); a crafted file must get an error, not take all memory. Real graphs fold shape
// arithmetic and small tensors, far below this.
constexpr int64_t kMaxFoldedElements = int64_t{1} << 28;

int64_t folded_count(const Shape& shape, const std::string& op) {
  const int64_t n = element_count(shape);
  if (n > kMaxFoldedElements)
    throw Error::bad_input(op + " would make a constant of shape " + to_string(shape) + " (" +
                           std::to_string(n) + " elements); shrink folds constants of at most " +
                           std::to_string(kMaxFoldedElements));
  return n;
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
  if (c.is_integer) {
    out.ints.reserve(indices.size());
    for (int64_t i : indices) out.ints.push_back(c.ints[static_cast<size_t>(i)]);
  } else {
    out.values.reserve(indices.size());
    for (int64_t i : indices) out.values.push_back(c.values[static_cast<size_t>(i)]);
  }
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

// Integer arithmetic as a runtime does it in int64, except that overflow is an error here
// rather than a wrapped value nobody asked for.
int64_t integer_binary(const std::string& op, int64_t x, int64_t y) {
  int64_t r = 0;
  bool overflow = false;
  if (op == "Add") overflow = __builtin_add_overflow(x, y, &r);
  else if (op == "Sub") overflow = __builtin_sub_overflow(x, y, &r);
  else if (op == "Mul") overflow = __builtin_mul_overflow(x, y, &r);
  else if (op == "Div") {
    if (y == 0) throw Error::bad_input("integer Div by zero");
    overflow = x == std::numeric_limits<int64_t>::min() && y == -1;
    if (!overflow) r = x / y;  // C++ truncates toward zero, as ONNX's integer Div does
  } else if (op == "Pow") {
    if (y < 0) throw Error::bad_input("integer Pow with the negative exponent " + std::to_string(y));
    // By squaring: log2(y) checked steps, so a crafted exponent cannot loop for long. The
    // highest bit of y always uses the last square, so a square that overflows means the
    // result does too.
    r = 1;
    int64_t base = x;
    for (int64_t e = y; e > 0 && !overflow; e >>= 1) {
      if (e & 1) overflow = __builtin_mul_overflow(r, base, &r);
      if (e > 1 && !overflow) overflow = __builtin_mul_overflow(base, base, &base);
    }
  }
  if (overflow)
    throw Error::bad_input("integer " + op + " of " + std::to_string(x) + " and " +
                           std::to_string(y) + " overflows int64");
  return r;
}

Constant fold_binary(const std::string& op, const Constant& a, const Constant& b) {
  require_no_batch(a, op);
  require_no_batch(b, op);
  if (a.is_integer != b.is_integer)
    throw Error::bad_input(op + " of an integer and a float tensor; ONNX needs one element type");
  Constant out;
  out.is_integer = a.is_integer;
  out.shape = broadcast_shape(a.shape, b.shape);
  const int64_t n = folded_count(out.shape, op);
  if (out.is_integer) out.ints.resize(static_cast<size_t>(n));
  else out.values.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t ia = broadcast_index(i, out.shape, a.shape);
    const int64_t ib = broadcast_index(i, out.shape, b.shape);
    if (out.is_integer) {
      out.ints[static_cast<size_t>(i)] = integer_binary(op, a.ints[static_cast<size_t>(ia)],
                                                        b.ints[static_cast<size_t>(ib)]);
      continue;
    }
    const double x = a.values[static_cast<size_t>(ia)];
    const double y = b.values[static_cast<size_t>(ib)];
    double r = 0;
    if (op == "Add") r = x + y;
    else if (op == "Sub") r = x - y;
    else if (op == "Mul") r = x * y;
    else if (op == "Div") r = x / y;
    else if (op == "Pow") r = std::pow(x, y);
    out.values[static_cast<size_t>(i)] = static_cast<float>(r);  // float32, as a runtime does
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
    case onnx::TensorProto_DataType_DOUBLE: {
      require_no_batch(x, "Cast to " + data_type_name(to));
      out.is_integer = false;
      out.ints.clear();
      if (x.is_integer) out.values.assign(x.ints.begin(), x.ints.end());
      if (to == onnx::TensorProto_DataType_FLOAT)
        for (double& v : out.values) v = static_cast<float>(v);
      break;
    }
    case onnx::TensorProto_DataType_INT64:
    case onnx::TensorProto_DataType_INT32:
      if (!x.is_integer) {
        out.is_integer = true;
        out.values.clear();
        out.ints.reserve(x.values.size());
        for (double v : x.values) {
          // 2^63 is the first double past INT64_MAX; converting it or NaN is undefined.
          if (!(std::abs(v) < 9223372036854775808.0))
            throw Error::bad_input("Cast of " + std::to_string(v) + " to " + data_type_name(to) +
                                   " is out of range");
          out.ints.push_back(static_cast<int64_t>(v));  // truncates toward zero, as ONNX does
        }
      }
      if (to == onnx::TensorProto_DataType_INT32)
        for (int64_t& v : out.ints)
          if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
            throw Error::bad_input("Cast of " + std::to_string(v) + " to INT32 is out of range");
      break;
    case onnx::TensorProto_DataType_BOOL:
      require_no_batch(x, "Cast to bool");
      out.is_integer = true;
      out.ints.resize(static_cast<size_t>(x.numel()));
      for (int64_t i = 0; i < x.numel(); ++i) out.ints[static_cast<size_t>(i)] = x.value(i) != 0;
      out.values.clear();
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
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
    throw Error::bad_input("Unsqueeze axes " + to_string(axes) + " repeat an axis");
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
    if (c.shape.size() != first.shape.size() || c.is_integer != first.is_integer)
      throw Error::bad_input("Concat inputs differ in rank or element type");
    for (int64_t d = 0; d < rank; ++d)
      if (d != axis && c.shape[static_cast<size_t>(d)] != first.shape[static_cast<size_t>(d)])
        throw Error::bad_input("Concat inputs of shapes " + to_string(first.shape) + " and " +
                               to_string(c.shape) + " differ outside axis " + std::to_string(axis));
    out.shape[static_cast<size_t>(axis)] += c.shape[static_cast<size_t>(axis)];
    any_batch = any_batch || c.has_batch();
  }
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= first.shape[static_cast<size_t>(d)];
  for (int64_t o = 0; o < outer; ++o)
    for (const Constant* c : inputs) {
      const int64_t block = c->numel() / outer;
      for (int64_t i = o * block; i < (o + 1) * block; ++i) {
        if (c->is_integer) out.ints.push_back(c->ints[static_cast<size_t>(i)]);
        else out.values.push_back(c->values[static_cast<size_t>(i)]);
        if (any_batch) out.batch.push_back(c->is_batch(i));
      }
    }
  return out;
}

Constant fold_reshape(const Constant& x, const Constant& shape_c, bool allow_zero) {
  std::vector<int64_t> target = ints_of(shape_c, "Reshape shape");
  int64_t infer = -1, known = 1;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == 0 && !allow_zero) {
      if (i >= x.shape.size())
        throw Error::bad_input("Reshape shape " + to_string(target) + " copies axis " +
                               std::to_string(i) + " of " + to_string(x.shape) + ", which has none");
      target[i] = x.shape[i];
    }
    if (target[i] == -1) {
      if (infer >= 0) throw Error::bad_input("Reshape shape has more than one -1");
      infer = static_cast<int64_t>(i);
    } else if (target[i] < 0 || __builtin_mul_overflow(known, target[i], &known)) {
      throw Error::bad_input("Reshape shape " + to_string(target) + " is not a valid shape");
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
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  if (sorted != iota(static_cast<int64_t>(rank)))
    throw Error::bad_input("Transpose perm " + to_string(perm) + " is not a permutation of the " +
                           std::to_string(rank) + " axes");
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
    // Bounds are int64 as the file gives them: PyTorch writes INT64_MAX for "to the end".
    auto clamp = [&](int64_t v, bool is_end) {
      if (v < 0) v = std::max<int64_t>(v, -size - 1) + size;
      if (s > 0) return std::clamp<int64_t>(v, 0, size);
      return std::clamp<int64_t>(v, is_end ? -1 : 0, size - 1);
    };
    const int64_t b = clamp(starts[i], false), e = clamp(ends[i], true);
    // b and e lie in [-1, size], so only the step can be extreme (INT64_MIN has no negation).
    int64_t count = 0;
    if (s > 0 && e > b) count = (e - b - 1) / s + 1;
    if (s < 0 && b > e) count = s == std::numeric_limits<int64_t>::min() ? 1 : (b - e - 1) / -s + 1;
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

// QuantizeLinear / DequantizeLinear of constants (QDQ files store weights as int8 or uint8
// initializers with a DequantizeLinear): per tensor, or per axis with one scale and zero point
// per index along `axis` (default 1). Arithmetic in float, as ONNX Runtime does; quantizing
// rounds half to even and saturates to the zero point's type (uint8 without one).
Constant fold_linear_quantization(const std::string& op, const std::vector<const Constant*>& in,
                                  const Attributes& attrs) {
  attrs.allow_only({"axis"});
  const Constant& x = input(in, 0, op);
  const Constant& scale = input(in, 1, op);
  const Constant* zero = in.size() > 2 ? in[2] : nullptr;
  for (const Constant* c : {&x, &scale, zero})
    if (c != nullptr) require_no_batch(*c, op);
  if (scale.is_integer) throw Error::bad_input(op + ": the scale must be a float tensor");
  const int64_t channels = scale.numel();
  if (channels < 1 || scale.shape.size() > 1)
    throw Error::bad_input(op + ": the scale must be a scalar or 1-D, got shape " + to_string(scale.shape));
  if (zero != nullptr && (!zero->is_integer || zero->numel() != channels))
    throw Error::bad_input(op + ": the zero point must be an integer tensor of the scale's shape");
  int64_t inner = 1;
  if (scale.shape.size() == 1) {
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    const int64_t axis = normalize_axis(attrs.get_int("axis", 1), rank, op + " axis");
    if (x.shape[static_cast<size_t>(axis)] != channels)
      throw Error::bad_input(op + ": " + std::to_string(channels) + " scales for axis " +
                             std::to_string(axis) + " of shape " + to_string(x.shape));
    for (int64_t d = axis + 1; d < rank; ++d) inner *= x.shape[static_cast<size_t>(d)];
  }
  const bool is_signed = zero != nullptr && zero->data_type == onnx::TensorProto_DataType_INT8;
  Constant c;
  c.shape = x.shape;
  const int64_t n = x.numel();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t channel = channels == 1 ? 0 : (i / inner) % channels;
    const float s = static_cast<float>(scale.values[static_cast<size_t>(channel)]);
    const int64_t z = zero != nullptr ? zero->ints[static_cast<size_t>(channel)] : 0;
    if (op == "DequantizeLinear") {
      c.values.push_back(static_cast<float>(static_cast<float>(x.value(i) - static_cast<double>(z)) * s));
    } else {
      const float q = std::nearbyint(static_cast<float>(x.value(i)) / s) + static_cast<float>(z);
      c.ints.push_back(static_cast<int64_t>(std::clamp(q, is_signed ? -128.0f : 0.0f, is_signed ? 127.0f : 255.0f)));
    }
  }
  if (op == "QuantizeLinear") {
    c.is_integer = true;
    c.data_type = is_signed ? onnx::TensorProto_DataType_INT8 : onnx::TensorProto_DataType_UINT8;
  }
  return c;
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
    const int64_t given = attrs.get_int("axis", 1);
    const int64_t axis = given < 0 ? given + rank : given;
    if (axis < 0 || axis > rank)
      throw Error::bad_input("Flatten axis " + std::to_string(given) + " is out of range for rank " +
                             std::to_string(rank));
    int64_t outer = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= x.shape.at(static_cast<size_t>(d));
    out.push_back(reshaped(x, {outer, outer ? x.numel() / outer : 0}));
  } else if (op == "Transpose") {
    out.push_back(fold_transpose(input(in, 0, op), attrs));
  } else if (op == "Slice") {
    out.push_back(fold_slice(node, opset, in, attrs));
  } else if (op == "QuantizeLinear" || op == "DequantizeLinear") {
    out.push_back(fold_linear_quantization(op, in, attrs));
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
    const size_t n = static_cast<size_t>(folded_count(c.shape, op));
    const double value = fill.scalar("ConstantOfShape value");
    if (c.is_integer) c.ints.assign(n, fill.ints[0]);
    else c.values.assign(n, value);
    out.push_back(std::move(c));
  } else if (auto it = unary_ops().find(op); it != unary_ops().end()) {
    attrs.allow_only({});
    Constant c = input(in, 0, op);
    require_no_batch(c, op);
    if (c.is_integer) {
      // Only these keep an integer an integer (ONNX defines the rest for floats).
      if (op != "Neg" && op != "Abs" && op != "Relu")
        throw Error::bad_input(op + " of an integer tensor is not supported");
      for (int64_t& v : c.ints) {
        if (v == std::numeric_limits<int64_t>::min() && op != "Relu")
          throw Error::bad_input(op + " of " + std::to_string(v) + " overflows int64");
        v = op == "Relu" ? std::max<int64_t>(v, 0) : op == "Abs" ? std::abs(v) : -v;
      }
    } else {
      for (double& v : c.values) v = static_cast<float>(it->second(v));
    }
    out.push_back(std::move(c));
  } else {
    return false;
  }
  return true;
}

}  // namespace shrink::onnx_io
