// ONNX -> Model. Every ONNX tensor is either a constant (initializers, Constant nodes, folded
// subgraphs; see onnx_fold.cpp) or a batch-first activation produced by a shrink node. Each
// operator's translation lives in one member function listed in kHandlers; a translation
// validates every attribute it reads and rejects the ones it does not, so an unsupported form
// fails with the node, operator and opset in the message instead of computing something else.
#include "shrink/io/onnx.hpp"

#include "io/onnx_import_support.hpp"
#include "io/onnx_tensor.hpp"
#include "shrink/core/error.hpp"
#include "shrink/core/file.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <set>

namespace shrink {
namespace {

using onnx_io::Attributes;
using onnx_io::Constant;
using Json = nlohmann::json;

// Window attributes (kernel, stride, dilation, padding) are validated against this before the
// padding and ceil_mode arithmetic divides by a stride or multiplies a kernel by a dilation: a
// crafted 0 must be an error, not a SIGFPE, and a crafted 2^62 not an overflow.
constexpr int64_t kMaxWindowAttribute = std::numeric_limits<int32_t>::max();

// An activation: the batch-first value of a shrink node (or of the model input).
struct Dynamic {
  std::string source;  // shrink node name or the model input's name
  Shape sample;        // per-sample shape of `source`
  // Non-empty: this ONNX value is Transpose(perm) of `source` with the batch moved off axis 0.
  // Nothing can hold such a value, but Gemm(transA=1) and a second Transpose can consume it.
  std::vector<int64_t> perm;
  // Non-zero: this ONNX value is `source` zero-padded by [ph, pw] on both sides of H and W
  // (PyTorch writes AvgPool2d(count_include_pad=True) as Pad + AveragePool). A Conv or an
  // AveragePool absorbs it into its own padding.
  std::array<int64_t, 2> zero_pad{0, 0};
};

// A node waiting to become part of the Model once the whole graph has been read, so a later
// ONNX node can still change it (MatMul + Add -> Linear with bias).
struct PendingNode {
  std::string name;
  std::string type;
  Json attributes;
  std::vector<std::string> inputs;
  std::vector<std::pair<std::string, Tensor>> parameters;  // suffix -> value
  Shape sample_output;
  bool bias_free_matmul = false;
};

std::string sanitize(const std::string& name) {
  std::string out;
  for (char c : name) {
    if (c == '/' || c == ':' || c == ' ' || c == '\\') {
      if (!out.empty() && out.back() != '_') out += '_';
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out;
}

Shape with_batch(const Shape& sample) {
  Shape s{1};
  s.insert(s.end(), sample.begin(), sample.end());
  return s;
}

// Transposes a 2-D tensor.
Tensor transposed(const Tensor& t) {
  Tensor out({t.dim(1), t.dim(0)});
  out.matrix(t.dim(1), t.dim(0)) = t.matrix(t.dim(0), t.dim(1)).transpose();
  return out;
}

class Importer {
 public:
  Importer(const onnx::ModelProto& proto, std::string what, std::string base_dir)
      : proto_(proto), what_(std::move(what)), base_dir_(std::move(base_dir)) {}

  Model run();

  // One translation per ONNX operator that touches activations.
  using Handler = void (Importer::*)(const onnx::NodeProto&, const Attributes&);
  static const std::map<std::string, Handler>& handlers();

 private:

  void read_opset();
  void read_inputs();
  void count_uses();
  void import_node(const onnx::NodeProto& node);
  Model build();

  // --- values ---------------------------------------------------------------------------
  const Constant* constant(const onnx::NodeProto& node, int i) const;
  const Constant& required_constant(const onnx::NodeProto& node, int i, const char* what) const;
  // The i-th input as a batch-first activation; throws if it is a constant or not batch-first.
  const Dynamic& batch_first(const onnx::NodeProto& node, int i) const;
  // Like batch_first, but also accepts a pending zero padding and returns it in `pad`.
  const Dynamic& padded_input(const onnx::NodeProto& node, int i, std::array<int64_t, 2>& pad) const;
  bool is_dynamic(const onnx::NodeProto& node, int i) const;
  void check_extra_outputs_unused(const onnx::NodeProto& node) const;

  // --- building -------------------------------------------------------------------------
  std::string unique_name(const onnx::NodeProto& node, const std::string& weight_name);
  // Adds a shrink node whose output is the ONNX node's first output.
  PendingNode& emit(const onnx::NodeProto& node, const std::string& type, Json attributes,
                    std::vector<std::string> inputs,
                    std::vector<std::pair<std::string, Tensor>> parameters = {},
                    const std::string& weight_name = "");
  void alias(const onnx::NodeProto& node, const Dynamic& value);
  void emit_reshape(const onnx::NodeProto& node, const Dynamic& x, const Shape& sample);

  // --- translations, one per ONNX operator ----------------------------------------------
  void gemm(const onnx::NodeProto&, const Attributes&);
  void matmul(const onnx::NodeProto&, const Attributes&);
  void binary(const onnx::NodeProto&, const Attributes&);
  void conv(const onnx::NodeProto&, const Attributes&);
  void conv_transpose(const onnx::NodeProto&, const Attributes&);
  void batch_norm(const onnx::NodeProto&, const Attributes&);
  void max_pool(const onnx::NodeProto&, const Attributes&);
  void average_pool(const onnx::NodeProto&, const Attributes&);
  void global_pool(const onnx::NodeProto&, const Attributes&);
  void activation(const onnx::NodeProto&, const Attributes&);
  void leaky_relu(const onnx::NodeProto&, const Attributes&);
  void hard_sigmoid(const onnx::NodeProto&, const Attributes&);
  void clip(const onnx::NodeProto&, const Attributes&);
  void softmax(const onnx::NodeProto&, const Attributes&);
  void flatten(const onnx::NodeProto&, const Attributes&);
  void dropout(const onnx::NodeProto&, const Attributes&);
  void identity(const onnx::NodeProto&, const Attributes&);
  void cast(const onnx::NodeProto&, const Attributes&);
  void reshape(const onnx::NodeProto&, const Attributes&);
  void squeeze(const onnx::NodeProto&, const Attributes&);
  void transpose(const onnx::NodeProto&, const Attributes&);
  void concat(const onnx::NodeProto&, const Attributes&);
  void shape(const onnx::NodeProto&, const Attributes&);
  void pad(const onnx::NodeProto&, const Attributes&);
  void linear_quantization(const onnx::NodeProto&, const Attributes&);

  bool try_fuse_bias(const onnx::NodeProto& node, const std::string& x_name, const Dynamic& x,
                     const Constant& c);
  std::array<int64_t, 2> symmetric_pads(const Attributes& attrs, const Dynamic& x,
                                        const std::array<int64_t, 2>& kernel,
                                        const std::array<int64_t, 2>& stride,
                                        const std::array<int64_t, 2>& dilation) const;

  const onnx::ModelProto& proto_;
  std::string what_;
  std::string base_dir_;
  int opset_ = 0;
  std::vector<ModelInput> inputs_;      // the graph inputs that are not initializers
  std::optional<int64_t> fixed_batch_;  // the batch size when an input fixes it
  std::map<std::string, Constant> constants_;
  std::map<std::string, Dynamic> dynamics_;
  std::map<std::string, int> uses_;
  std::vector<PendingNode> nodes_;
  std::map<std::string, size_t> node_index_;
  std::map<std::string, Shape> value_shapes_;  // shrink value name -> per-sample shape
  std::set<std::string> names_;
};

// One line per ONNX operator that touches activations; constant-only nodes are folded first.
const std::map<std::string, Importer::Handler>& Importer::handlers() {
  static const std::map<std::string, Handler> table = {
      {"Gemm", &Importer::gemm},
      {"MatMul", &Importer::matmul},
      {"Add", &Importer::binary},
      {"Sub", &Importer::binary},
      {"Mul", &Importer::binary},
      {"Div", &Importer::binary},
      {"Conv", &Importer::conv},
      {"ConvTranspose", &Importer::conv_transpose},
      {"BatchNormalization", &Importer::batch_norm},
      {"MaxPool", &Importer::max_pool},
      {"AveragePool", &Importer::average_pool},
      {"GlobalAveragePool", &Importer::global_pool},
      {"GlobalMaxPool", &Importer::global_pool},
      {"Relu", &Importer::activation},
      {"Sigmoid", &Importer::activation},
      {"Tanh", &Importer::activation},
      {"HardSwish", &Importer::activation},
      {"LeakyRelu", &Importer::leaky_relu},
      {"HardSigmoid", &Importer::hard_sigmoid},
      {"Clip", &Importer::clip},
      {"Softmax", &Importer::softmax},
      {"LogSoftmax", &Importer::softmax},
      {"Flatten", &Importer::flatten},
      {"Dropout", &Importer::dropout},
      {"Identity", &Importer::identity},
      {"Cast", &Importer::cast},
      {"Reshape", &Importer::reshape},
      {"Squeeze", &Importer::squeeze},
      {"Unsqueeze", &Importer::squeeze},
      {"Transpose", &Importer::transpose},
      {"Concat", &Importer::concat},
      {"Shape", &Importer::shape},
      {"Pad", &Importer::pad},
      {"QuantizeLinear", &Importer::linear_quantization},
      {"DequantizeLinear", &Importer::linear_quantization},
  };
  return table;
}

Model Importer::run() {
  read_opset();
  const onnx::GraphProto& graph = proto_.graph();
  for (const auto& init : graph.initializer())
    constants_[init.name()] =
        onnx_io::constant_from_proto(init, base_dir_, "initializer '" + init.name() + "'");
  if (graph.sparse_initializer_size() > 0)
    throw Error::bad_input("sparse initializers are not supported");
  read_inputs();
  count_uses();
  for (const auto& node : graph.node()) import_node(node);
  return build();
}

void Importer::read_opset() {
  for (const auto& entry : proto_.opset_import())
    if (entry.domain().empty() || entry.domain() == "ai.onnx")
      opset_ = static_cast<int>(entry.version());
  if (opset_ == 0) throw Error::bad_input("the file imports no opset of the default ONNX domain");
  if (opset_ < kOnnxMinOpset || opset_ > kOnnxMaxOpset)
    throw Error::bad_input("opset " + std::to_string(opset_) + " is not supported (shrink reads " +
                           std::to_string(kOnnxMinOpset) + " to " +
                           std::to_string(kOnnxMaxOpset) + "; convert it with " +
                           "onnx.version_converter)");
}

void Importer::read_inputs() {
  const onnx::GraphProto& graph = proto_.graph();
  for (const auto& in : graph.input()) {
    if (constants_.count(in.name())) continue;  // an initializer's default value: a constant
    const std::string where = "graph input '" + in.name() + "'";
    if (!in.type().has_tensor_type())
      throw Error::bad_input(where + " is not a tensor");
    const auto& tensor_type = in.type().tensor_type();
    if (tensor_type.elem_type() != onnx::TensorProto_DataType_FLOAT)
      throw Error::bad_input(where + " has element type " +
                             onnx_io::data_type_name(tensor_type.elem_type()) +
                             "; shrink models take float32 input");
    if (!tensor_type.has_shape() || tensor_type.shape().dim_size() < 2)
      throw Error::bad_input(where + " needs a known shape [batch, ...] of rank 2 or more");
    const auto& dims = tensor_type.shape().dim();
    // Every input shares the batch axis, so two inputs that fix it must agree.
    if (dims[0].has_dim_value() && dims[0].dim_value() > 0) {
      if (fixed_batch_ && *fixed_batch_ != dims[0].dim_value())
        throw Error::bad_input(where + " has batch size " + std::to_string(dims[0].dim_value()) +
                               " but graph input '" + inputs_.front().name + "' has " +
                               std::to_string(*fixed_batch_) + "; shrink feeds every input " +
                               "the same batch");
      fixed_batch_ = dims[0].dim_value();
    }
    Shape sample;
    for (int i = 1; i < dims.size(); ++i) {
      if (!dims[i].has_dim_value() || dims[i].dim_value() <= 0)
        throw Error::bad_input(where + " has a symbolic size '" + dims[i].dim_param() +
                               "' at axis " + std::to_string(i) +
                               "; shrink needs fixed sizes after the batch axis");
      sample.push_back(dims[i].dim_value());
    }
    element_count(sample);  // a crafted file may give sizes whose product overflows
    names_.insert(in.name());
    value_shapes_[in.name()] = sample;
    dynamics_[in.name()] = Dynamic{in.name(), sample, {}};
    inputs_.push_back({in.name(), sample});
  }
  if (inputs_.empty())
    throw Error::bad_input("the graph has no input that is not an initializer; shrink models "
                           "take at least one batch-first input");
}

void Importer::count_uses() {
  for (const auto& node : proto_.graph().node())
    for (const auto& name : node.input())
      if (!name.empty()) ++uses_[name];
  for (const auto& out : proto_.graph().output()) ++uses_[out.name()];
}

const Constant* Importer::constant(const onnx::NodeProto& node, int i) const {
  if (i >= node.input_size() || node.input(i).empty()) return nullptr;
  auto it = constants_.find(node.input(i));
  return it == constants_.end() ? nullptr : &it->second;
}

const Constant& Importer::required_constant(const onnx::NodeProto& node, int i,
                                            const char* what) const {
  if (i >= node.input_size() || node.input(i).empty())
    throw Error::bad_input(std::string("the ") + what + " input is missing");
  const Constant* c = constant(node, i);
  if (!c)
    throw Error::bad_input(std::string("the ") + what + " '" + node.input(i) +
                           "' is computed at run time; shrink needs it to be a constant " +
                           "(an initializer or a constant subgraph)");
  return *c;
}

bool Importer::is_dynamic(const onnx::NodeProto& node, int i) const {
  return i < node.input_size() && dynamics_.count(node.input(i));
}

const Dynamic& Importer::batch_first(const onnx::NodeProto& node, int i) const {
  if (i >= node.input_size() || node.input(i).empty())
    throw Error::bad_input("input " + std::to_string(i) + " is missing");
  const std::string& name = node.input(i);
  auto it = dynamics_.find(name);
  if (it == dynamics_.end()) {
    if (constants_.count(name))
      throw Error::bad_input("input '" + name + "' is a constant where shrink expects the " +
                             "activation flowing from the model input");
    throw Error::bad_input("input '" + name + "' is not produced by any earlier node");
  }
  if (!it->second.perm.empty())
    throw Error::bad_input("input '" + name + "' is a transpose that moves the batch axis; " +
                           "shrink keeps every activation batch-first");
  if (it->second.zero_pad != std::array<int64_t, 2>{0, 0})
    throw Error::bad_input("input '" + name + "' comes from a Pad; shrink supports Pad only " +
                           "directly before a Conv or an AveragePool");
  return it->second;
}

const Dynamic& Importer::padded_input(const onnx::NodeProto& node, int i,
                                      std::array<int64_t, 2>& pad) const {
  pad = {0, 0};
  if (i < node.input_size()) {
    auto it = dynamics_.find(node.input(i));
    if (it != dynamics_.end() && it->second.perm.empty()) {
      pad = it->second.zero_pad;
      return it->second;
    }
  }
  return batch_first(node, i);
}

void Importer::check_extra_outputs_unused(const onnx::NodeProto& node) const {
  for (int i = 1; i < node.output_size(); ++i) {
    const std::string& name = node.output(i);
    if (name.empty()) continue;
    auto it = uses_.find(name);
    if (it != uses_.end() && it->second > 0)
      throw Error::bad_input("its output " + std::to_string(i) + " ('" + name +
                             "') is used, but shrink computes only the first output");
  }
}

std::string Importer::unique_name(const onnx::NodeProto& node, const std::string& weight_name) {
  std::string base;
  // PyTorch names initializers after the module ("conv1.weight"); naming the node "conv1"
  // keeps the parameter names users know.
  const std::string suffix = ".weight";
  if (weight_name.size() > suffix.size() && weight_name.ends_with(suffix))
    base = weight_name.substr(0, weight_name.size() - suffix.size());
  if (base.empty()) base = sanitize(node.name());
  if (base.empty()) {
    base = node.op_type();
    for (char& c : base) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    base += "_" + std::to_string(nodes_.size());
  }
  std::string name = base;
  for (int k = 2; names_.count(name); ++k) name = base + "_" + std::to_string(k);
  names_.insert(name);
  return name;
}

PendingNode& Importer::emit(const onnx::NodeProto& node, const std::string& type,
                            Json attributes, std::vector<std::string> inputs,
                            std::vector<std::pair<std::string, Tensor>> parameters,
                            const std::string& weight_name) {
  check_extra_outputs_unused(node);
  PendingNode p;
  p.name = unique_name(node, weight_name);
  p.type = type;
  p.attributes = std::move(attributes);
  p.inputs = std::move(inputs);
  p.parameters = std::move(parameters);
  std::vector<Shape> shapes;
  for (const auto& in : p.inputs) shapes.push_back(with_batch(value_shapes_.at(in)));
  const std::unique_ptr<Op> op = make_op(p.type, p.attributes);
  const Shape out = op->output_shape(shapes);
  p.sample_output.assign(out.begin() + 1, out.end());
  const auto specs = op->parameter_specs(shapes);
  if (specs.size() != p.parameters.size())
    throw Error::internal("the " + type + " translation gives " +
                          std::to_string(p.parameters.size()) + " parameters, the op takes " +
                          std::to_string(specs.size()));
  for (const ParameterSpec& spec : specs) {
    auto it = std::find_if(p.parameters.begin(), p.parameters.end(),
                           [&](const auto& entry) { return entry.first == spec.suffix; });
    if (it == p.parameters.end())
      throw Error::internal("the " + type + " translation gives no '" + spec.suffix + "'");
    if (it->second.shape() != spec.shape)
      throw Error::bad_input("its " + spec.suffix + " has shape " + to_string(it->second.shape()) +
                             " but a " + type + " on input " + to_string(shapes.at(0)) +
                             " needs " + to_string(spec.shape));
  }
  value_shapes_[p.name] = p.sample_output;
  dynamics_[node.output(0)] = Dynamic{p.name, p.sample_output, {}};
  node_index_[p.name] = nodes_.size();
  nodes_.push_back(std::move(p));
  return nodes_.back();
}

void Importer::alias(const onnx::NodeProto& node, const Dynamic& value) {
  check_extra_outputs_unused(node);
  dynamics_[node.output(0)] = value;
}

void Importer::emit_reshape(const onnx::NodeProto& node, const Dynamic& x, const Shape& sample) {
  if (sample == x.sample) return alias(node, x);
  if (sample.size() == 1 && x.sample.size() >= 2)
    emit(node, "Flatten", {{"start_dim", 1}}, {x.source});
  else {
    Shape target{0};
    target.insert(target.end(), sample.begin(), sample.end());
    emit(node, "Reshape", {{"shape", target}}, {x.source});
  }
}

void Importer::import_node(const onnx::NodeProto& node) {
  const std::string label = "node '" + node.name() + "' (" + node.op_type() + ", opset " +
                            std::to_string(opset_) + ")";
  try {
    if (!node.domain().empty() && node.domain() != "ai.onnx")
      throw Error::bad_input("operator domain '" + node.domain() + "' is not supported");
    if (node.output_size() == 0) throw Error::bad_input("the node has no output");
    bool all_constant = true;
    std::vector<const Constant*> inputs;
    for (int i = 0; i < node.input_size(); ++i) {
      if (node.input(i).empty()) {
        inputs.push_back(nullptr);
        continue;
      }
      const Constant* c = constant(node, i);
      if (!c && !dynamics_.count(node.input(i)))
        throw Error::bad_input("input '" + node.input(i) + "' is not produced by any earlier node");
      all_constant = all_constant && c != nullptr;
      inputs.push_back(c);
    }
    if (all_constant) {
      std::vector<Constant> outputs;
      if (onnx_io::fold_constant_node(node, opset_, inputs, outputs)) {
        for (size_t i = 0; i < outputs.size() && i < static_cast<size_t>(node.output_size()); ++i)
          constants_[node.output(static_cast<int>(i))] = std::move(outputs[i]);
        return;
      }
    }
    auto it = handlers().find(node.op_type());
    if (it == handlers().end()) {
      std::string known;
      for (const auto& entry : handlers()) known += (known.empty() ? "" : ", ") + entry.first;
      throw Error::bad_input("operator " + node.op_type() + " is not supported" +
                             (all_constant ? " on constant inputs" : "") +
                             " (shrink imports " + known + ")");
    }
    const Attributes attrs(node);
    (this->*(it->second))(node, attrs);
  } catch (Error& e) {
    throw e.add_context(label);
  }
}

// --- translations --------------------------------------------------------------------------

void Importer::gemm(const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"alpha", "beta", "transA", "transB"});
  const float alpha = attrs.get_float("alpha", 1.0f);
  const float beta = attrs.get_float("beta", 1.0f);
  const bool trans_a = attrs.get_int("transA", 0) != 0;
  const bool trans_b = attrs.get_int("transB", 0) != 0;
  if (!is_dynamic(node, 0))
    throw Error::bad_input("A is a constant; shrink reads Gemm as a layer whose A is the "
                           "activation and whose B holds the weights");
  const Dynamic& a_value = dynamics_.at(node.input(0));
  Dynamic a = a_value;
  if (trans_a) {
    if (a_value.perm != std::vector<int64_t>{1, 0})
      throw Error::bad_input("transA=1 would multiply along the batch axis of the batch-first "
                             "input '" + node.input(0) + "'");
    a = Dynamic{a_value.source, value_shapes_.at(a_value.source), {}};
  } else if (!a_value.perm.empty()) {
    a = batch_first(node, 0);  // throws: A is a transposed activation
  }
  if (a.sample.size() != 1)
    throw Error::bad_input("A has per-sample shape " + to_string(a.sample) +
                           "; Gemm needs a matrix [batch, K]");
  if (is_dynamic(node, 1))
    throw Error::bad_input("B is computed at run time; shrink supports a constant B (the weights)");
  const Constant& b = required_constant(node, 1, "B");
  if (b.shape.size() != 2) throw Error::bad_input("B has shape " + to_string(b.shape) + ", not 2-D");
  Tensor weight = b.to_tensor();
  if (!trans_b) weight = transposed(weight);  // [M, K], the Linear layout
  const int64_t m = weight.dim(0), k = weight.dim(1);
  if (k != a.sample[0])
    throw Error::bad_input("A has " + std::to_string(a.sample[0]) + " features but B expects " +
                           std::to_string(k));
  if (alpha != 1.0f)
    for (float& w : weight) w *= alpha;
  std::vector<std::pair<std::string, Tensor>> params{{"weight", std::move(weight)}};
  const bool has_c = node.input_size() > 2 && !node.input(2).empty();
  if (has_c) {
    if (is_dynamic(node, 2))
      throw Error::bad_input("C is computed at run time; shrink supports a constant C (the bias)");
    const Constant& c = required_constant(node, 2, "C");
    const int64_t rows = c.shape.size() == 2 ? c.shape[0] : 1;
    const int64_t cols = c.shape.empty() ? 1 : c.shape.back();
    if (c.shape.size() > 2 || rows != 1 || (cols != 1 && cols != m))
      throw Error::bad_input("C has shape " + to_string(c.shape) + "; shrink supports a bias " +
                             "that broadcasts over the batch ([" + std::to_string(m) + "], [1, " +
                             std::to_string(m) + "] or a scalar)");
    Tensor bias({m});
    for (int64_t j = 0; j < m; ++j)
      bias[j] = static_cast<float>(beta * c.value(cols == 1 ? 0 : j));
    params.emplace_back("bias", std::move(bias));
  }
  emit(node, "Linear", {{"out_features", m}, {"bias", has_c}}, {a.source}, std::move(params),
       node.input(1));
}

void Importer::matmul(const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({});
  if (!is_dynamic(node, 0))
    throw Error::bad_input("the first input is a constant; shrink supports MatMul of an "
                           "activation by a constant matrix or by another activation");
  const Dynamic& x = batch_first(node, 0);
  if (is_dynamic(node, 1)) {
    const Dynamic& y = batch_first(node, 1);
    emit(node, "MatMul", Json::object(), {x.source, y.source});
    return;
  }
  const Constant& b = required_constant(node, 1, "second input");
  if (b.shape.size() != 2)
    throw Error::bad_input("the constant has shape " + to_string(b.shape) + ", not [K, M]");
  if (x.sample.size() == 1) {
    PendingNode& p = emit(node, "Linear", {{"out_features", b.shape[1]}, {"bias", false}},
                          {x.source}, {{"weight", transposed(b.to_tensor())}}, node.input(1));
    p.bias_free_matmul = true;
    return;
  }
  emit(node, "MatMul", {{"in_features", b.shape[0]}, {"out_features", b.shape[1]}}, {x.source},
       {{"weight", b.to_tensor()}}, node.input(1));
}

bool Importer::try_fuse_bias(const onnx::NodeProto& node, const std::string& x_name,
                             const Dynamic& x, const Constant& c) {
  auto it = node_index_.find(x.source);
  if (it == node_index_.end()) return false;
  PendingNode& p = nodes_[it->second];
  if (!p.bias_free_matmul || uses_[x_name] != 1) return false;
  const int64_t m = p.sample_output.at(0);
  const bool fits = c.numel() == m && !c.shape.empty() && c.shape.back() == m &&
                    (c.shape.size() == 1 || (c.shape.size() == 2 && c.shape[0] == 1));
  if (!fits) return false;
  p.attributes["bias"] = true;
  Tensor bias = c.to_tensor();
  bias.reshape({m});
  p.parameters.emplace_back("bias", std::move(bias));
  p.bias_free_matmul = false;
  check_extra_outputs_unused(node);
  dynamics_[node.output(0)] = Dynamic{p.name, p.sample_output, {}};
  return true;
}

void Importer::binary(const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({});
  const std::string& kind = node.op_type();
  const std::string type = kind == "Add" ? "BroadcastAdd" : kind;
  const Constant* ca = constant(node, 0);
  const Constant* cb = constant(node, 1);
  if (!ca && !cb) {
    const Dynamic& a = batch_first(node, 0);
    const Dynamic& b = batch_first(node, 1);
    if (kind == "Add" && a.sample == b.sample) {
      emit(node, "Add", Json::object(), {a.source, b.source});
      return;
    }
    emit(node, type, Json::object(), {a.source, b.source});
    return;
  }
  const bool constant_first = ca != nullptr;
  const Constant& c = constant_first ? *ca : *cb;
  const int x_index = constant_first ? 1 : 0;
  const Dynamic& x = batch_first(node, x_index);
  if (c.is_integer || c.has_batch())
    throw Error::bad_input("an integer or batch-size constant meets an activation");
  if (kind == "Add" && try_fuse_bias(node, node.input(x_index), x, c)) return;
  const size_t rank = x.sample.size() + 1;
  if (c.shape.size() > rank || (c.shape.size() == rank && c.shape[0] != 1))
    throw Error::bad_input("the constant of shape " + to_string(c.shape) +
                           " would broadcast over the batch axis of [N, " +
                           to_string(x.sample).substr(1));
  emit(node, type, {{"constant_shape", c.shape}, {"constant_first", constant_first}},
       {x.source}, {{"constant", c.to_tensor()}});
}

std::array<int64_t, 2> Importer::symmetric_pads(const Attributes& attrs, const Dynamic& x,
                                                const std::array<int64_t, 2>& kernel,
                                                const std::array<int64_t, 2>& stride,
                                                const std::array<int64_t, 2>& dilation) const {
  const std::string auto_pad = attrs.get_string("auto_pad", "NOTSET");
  std::vector<int64_t> pads(4, 0);
  if (auto_pad == "NOTSET") {
    pads = attrs.get_ints("pads", {0, 0, 0, 0});
    if (pads.size() != 4)
      throw Error::bad_input("pads has " + std::to_string(pads.size()) + " values, expected 4");
    for (int64_t p : pads)
      if (p < 0 || p > kMaxWindowAttribute)
        throw Error::bad_input("pads " + to_string(pads) + " must lie between 0 and " +
                               std::to_string(kMaxWindowAttribute));
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    for (size_t i = 0; i < 2; ++i) {
      const int64_t in = x.sample.at(1 + i);
      const int64_t out = (in + stride[i] - 1) / stride[i];
      const int64_t extent = (kernel[i] - 1) * dilation[i] + 1;
      const int64_t total = std::max<int64_t>(0, (out - 1) * stride[i] + extent - in);
      const int64_t small = total / 2, large = total - small;
      pads[i] = auto_pad == "SAME_UPPER" ? small : large;
      pads[i + 2] = auto_pad == "SAME_UPPER" ? large : small;
    }
  } else if (auto_pad != "VALID") {
    throw Error::bad_input("auto_pad '" + auto_pad + "' is not one of NOTSET, SAME_UPPER, " +
                           "SAME_LOWER, VALID");
  }
  if (pads[0] != pads[2] || pads[1] != pads[3])
    throw Error::bad_input("the padding [top, left, bottom, right] = " + to_string(pads) +
                           (auto_pad == "NOTSET" ? "" : " (from auto_pad " + auto_pad + ")") +
                           " is asymmetric; shrink pads both sides of an axis equally");
  return {pads[0], pads[1]};
}

namespace {

std::array<int64_t, 2> pair_attribute(const Attributes& attrs, const char* name,
                                      std::optional<int64_t> fallback, int64_t minimum) {
  if (!fallback && !attrs.has(name))
    throw Error::bad_input(std::string("attribute '") + name + "' is required");
  const auto v = attrs.get_ints(name, {fallback.value_or(0), fallback.value_or(0)});
  if (v.size() != 2)
    throw Error::bad_input(std::string(name) + " has " + std::to_string(v.size()) +
                           " values; shrink supports 2-D operators only");
  for (int64_t x : v)
    if (x < minimum || x > kMaxWindowAttribute)
      throw Error::bad_input(std::string(name) + " " + to_string(v) + " must lie between " +
                             std::to_string(minimum) + " and " +
                             std::to_string(kMaxWindowAttribute));
  return {v[0], v[1]};
}

Json pair_json(const std::array<int64_t, 2>& p) { return Json::array({p[0], p[1]}); }

}  // namespace

void Importer::conv(const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"});
  std::array<int64_t, 2> extra{};
  const Dynamic& x = padded_input(node, 0, extra);
  if (x.sample.size() != 3)
    throw Error::bad_input("input has per-sample shape " + to_string(x.sample) +
                           "; shrink supports 2-D convolution on [N, C, H, W]");
  if (is_dynamic(node, 1)) throw Error::bad_input("the weights are computed at run time");
  const Constant& w = required_constant(node, 1, "weight");
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
  if (has_bias) params.emplace_back("bias", required_constant(node, 2, "bias").to_tensor());
  emit(node, "Conv2d",
       {{"out_channels", w.shape[0]},
        {"kernel_size", pair_json(kernel)},
        {"stride", pair_json(stride)},
        {"padding", pair_json(padding)},
        {"dilation", pair_json(dilation)},
        {"groups", attrs.get_int("group", 1)},
        {"bias", has_bias}},
       {x.source}, std::move(params), node.input(1));
}

void Importer::conv_transpose(const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"auto_pad", "dilations", "group", "kernel_shape", "output_padding", "pads",
                    "strides"});
  const Dynamic& x = batch_first(node, 0);
  if (x.sample.size() != 3)
    throw Error::bad_input("input has per-sample shape " + to_string(x.sample) +
                           "; shrink supports 2-D transposed convolution on [N, C, H, W]");
  const Constant& w = required_constant(node, 1, "weight");
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
  if (has_bias) params.emplace_back("bias", required_constant(node, 2, "bias").to_tensor());
  emit(node, "ConvTranspose2d",
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

void Importer::batch_norm(const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"epsilon", "momentum", "training_mode"});
  if (attrs.get_int("training_mode", 0) != 0)
    throw Error::bad_input("training_mode=1 normalizes with batch statistics; export the model "
                           "in eval mode");
  const Dynamic& x = batch_first(node, 0);
  const char* type = x.sample.size() == 3 ? "BatchNorm2d" : "BatchNorm1d";
  if (x.sample.size() < 1 || x.sample.size() > 3)
    throw Error::bad_input("input has per-sample shape " + to_string(x.sample) +
                           "; shrink supports [N, C], [N, C, L] and [N, C, H, W]");
  // ONNX's momentum weighs the old running value; PyTorch's weighs the new batch statistic.
  // Rounded to 1e-6 so 0.9f reads back as 0.1 and survives export/import unchanged.
  const double momentum = std::round((1.0 - attrs.get_float("momentum", 0.9f)) * 1e6) / 1e6;
  emit(node, type,
       {{"eps", attrs.get_float("epsilon", 1e-5f)}, {"momentum", momentum}},
       {x.source},
       {{"weight", required_constant(node, 1, "scale").to_tensor()},
        {"bias", required_constant(node, 2, "bias").to_tensor()},
        {"running_mean", required_constant(node, 3, "mean").to_tensor()},
        {"running_var", required_constant(node, 4, "variance").to_tensor()}},
       node.input(1));
}

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

}  // namespace

void Importer::max_pool(const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads",
                    "storage_order", "strides"});
  const Dynamic& x = batch_first(node, 0);
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
  emit(node, "MaxPool2d",
       {{"kernel_size", pair_json(kernel)}, {"stride", pair_json(stride)},
        {"padding", pair_json(padding)}},
       {x.source});
}

void Importer::average_pool(const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads",
                    "strides"});
  std::array<int64_t, 2> extra{};
  const Dynamic& x = padded_input(node, 0, extra);
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
  emit(node, "AvgPool2d",
       {{"kernel_size", pair_json(kernel)}, {"stride", pair_json(stride)},
        {"padding", pair_json(padding)}, {"count_include_pad", count_include_pad}},
       {x.source});
}

void Importer::global_pool(const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({});
  const Dynamic& x = batch_first(node, 0);
  emit(node, node.op_type() == "GlobalAveragePool" ? "GlobalAvgPool" : "GlobalMaxPool",
       Json::object(), {x.source});
}

void Importer::activation(const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({});
  static const std::map<std::string, std::string> kTypes = {
      {"Relu", "ReLU"}, {"Sigmoid", "Sigmoid"}, {"Tanh", "Tanh"}, {"HardSwish", "Hardswish"}};
  emit(node, kTypes.at(node.op_type()), Json::object(), {batch_first(node, 0).source});
}

void Importer::leaky_relu(const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"alpha"});
  emit(node, "LeakyReLU", {{"negative_slope", attrs.get_float("alpha", 0.01f)}},
       {batch_first(node, 0).source});
}

void Importer::hard_sigmoid(const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"alpha", "beta"});
  emit(node, "Hardsigmoid",
       {{"alpha", attrs.get_float("alpha", 0.2f)}, {"beta", attrs.get_float("beta", 0.5f)}},
       {batch_first(node, 0).source});
}

void Importer::clip(const onnx::NodeProto& node, const Attributes& attrs) {
  Json bounds = Json::object();
  if (opset_ < 11) {
    attrs.allow_only({"min", "max"});
    if (attrs.has("min")) bounds["min"] = attrs.get_float("min", 0);
    if (attrs.has("max")) bounds["max"] = attrs.get_float("max", 0);
  } else {
    attrs.allow_only({});
    const char* names[] = {"min", "max"};
    for (int i = 1; i <= 2; ++i) {
      if (i >= node.input_size() || node.input(i).empty()) continue;
      const Constant& c = required_constant(node, i, names[i - 1]);
      bounds[names[i - 1]] = static_cast<float>(c.scalar(names[i - 1]));
    }
  }
  emit(node, "Clip", bounds, {batch_first(node, 0).source});
}

// QuantizeLinear / DequantizeLinear of an activation, per tensor (those of constant weights,
// per tensor or per axis, fold at load time): shrink's ops of the same names, the zero point's
// type (uint8 when absent) giving the codes' range.
void Importer::linear_quantization(const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"axis"});
  const Constant& scale = required_constant(node, 1, "scale");
  if (scale.numel() != 1)
    throw Error::bad_input("per-axis scales on an activation are not supported: shrink "
                           "quantizes activations per tensor (per-axis scales are read on "
                           "constant weights)");
  Json attributes = {{"scale", static_cast<float>(scale.scalar("scale"))}, {"type", "uint8"}};
  if (node.input_size() > 2 && !node.input(2).empty()) {
    const Constant& zero = required_constant(node, 2, "zero point");
    if (zero.data_type != onnx::TensorProto_DataType_INT8 &&
        zero.data_type != onnx::TensorProto_DataType_UINT8)
      throw Error::bad_input("the zero point is " + onnx_io::data_type_name(zero.data_type) +
                             "; shrink reads int8 and uint8 activations");
    attributes["zero_point"] = static_cast<int64_t>(zero.scalar("zero point"));
    if (zero.data_type == onnx::TensorProto_DataType_INT8) attributes["type"] = "int8";
  }
  emit(node, node.op_type(), attributes, {batch_first(node, 0).source});
}

void Importer::softmax(const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"axis"});
  const Dynamic& x = batch_first(node, 0);
  const int64_t rank = static_cast<int64_t>(x.sample.size()) + 1;
  const int64_t axis =
      onnx_io::normalize_axis(attrs.get_int("axis", opset_ < 13 ? 1 : -1), rank, "axis");
  if (axis == 0)
    throw Error::bad_input("axis 0 normalizes across the batch; shrink keeps samples independent");
  if (opset_ < 13 && axis != rank - 1)
    throw Error::bad_input("before opset 13 " + node.op_type() + " flattens the axes from " +
                           std::to_string(axis) + " on; shrink supports the last axis there");
  emit(node, node.op_type() == "Softmax" ? "Softmax" : "LogSoftmax", {{"dim", axis}},
       {x.source});
}

void Importer::flatten(const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"axis"});
  const Dynamic& x = batch_first(node, 0);
  const int64_t rank = static_cast<int64_t>(x.sample.size()) + 1;
  int64_t axis = attrs.get_int("axis", 1);
  if (axis < 0) axis += rank;
  if (axis != 1)
    throw Error::bad_input("axis " + std::to_string(attrs.get_int("axis", 1)) +
                           " would merge the batch axis with others; shrink supports axis 1");
  emit_reshape(node, x, {element_count(x.sample)});
}

void Importer::dropout(const onnx::NodeProto& node, const Attributes& attrs) {
  float ratio = 0.5f;
  if (opset_ < 12) {
    attrs.allow_only({"ratio", "is_test"});
    ratio = attrs.get_float("ratio", 0.5f);
  } else {
    attrs.allow_only({"seed"});
    if (node.input_size() > 1 && !node.input(1).empty())
      ratio = static_cast<float>(required_constant(node, 1, "ratio").scalar("ratio"));
    if (node.input_size() > 2 && !node.input(2).empty() &&
        required_constant(node, 2, "training_mode").scalar("training_mode") != 0)
      throw Error::bad_input("training_mode is true; export the model in eval mode");
  }
  emit(node, "Dropout", {{"p", ratio}}, {batch_first(node, 0).source});
}

void Importer::identity(const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({});
  alias(node, batch_first(node, 0));
}

void Importer::cast(const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"to", "saturate"});
  const int64_t to = attrs.get_int("to", 0);
  if (to != onnx::TensorProto_DataType_FLOAT)
    throw Error::bad_input("casting an activation to " +
                           onnx_io::data_type_name(static_cast<int>(to)) +
                           " is not supported (shrink computes in float32)");
  alias(node, batch_first(node, 0));
}

void Importer::reshape(const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"allowzero"});
  const bool allow_zero = attrs.get_int("allowzero", 0) != 0;
  const Dynamic& x = batch_first(node, 0);
  const Constant& target = required_constant(node, 1, "shape");
  const std::vector<int64_t> t = target.to_ints();
  const std::string context = "target shape " + to_string(t);
  if (t.empty()) throw Error::bad_input("the target shape is empty; the batch axis must stay");
  const bool first_is_batch = target.is_batch(0) || (t[0] == 0 && !allow_zero) ||
                              t[0] == -1 || (fixed_batch_ && t[0] == *fixed_batch_);
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
  emit_reshape(node, x, sample);
}

void Importer::squeeze(const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"axes"});
  const Dynamic& x = batch_first(node, 0);
  std::vector<int64_t> axes;
  if (opset_ < 13 || attrs.has("axes")) axes = attrs.get_ints("axes");
  else if (node.input_size() > 1 && !node.input(1).empty())
    axes = required_constant(node, 1, "axes").to_ints();
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
  emit_reshape(node, x, Shape(out.begin() + 1, out.end()));
}

void Importer::transpose(const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"perm"});
  if (!is_dynamic(node, 0)) batch_first(node, 0);  // throws with the reason
  const Dynamic& x = dynamics_.at(node.input(0));
  const Shape& source_sample = value_shapes_.at(x.source);
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
  if (identity) return alias(node, Dynamic{x.source, source_sample, {}});
  if (composed[0] != 0) {
    check_extra_outputs_unused(node);
    dynamics_[node.output(0)] = Dynamic{x.source, {}, composed};
    return;
  }
  emit(node, "Transpose", {{"perm", composed}}, {x.source});
}

void Importer::concat(const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"axis"});
  std::vector<std::string> inputs;
  int64_t rank = 0;
  for (int i = 0; i < node.input_size(); ++i) {
    const Dynamic& x = batch_first(node, i);
    rank = static_cast<int64_t>(x.sample.size()) + 1;
    inputs.push_back(x.source);
  }
  const int64_t axis = onnx_io::normalize_axis(attrs.get_int("axis", 0), rank, "axis");
  if (axis == 0) throw Error::bad_input("axis 0 concatenates along the batch axis");
  emit(node, "Concat", {{"axis", axis}}, inputs);
}

void Importer::shape(const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"start", "end"});
  const Dynamic& x = batch_first(node, 0);
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
  constants_[node.output(0)] = std::move(c);
}

void Importer::pad(const onnx::NodeProto& node, const Attributes& attrs) {
  std::vector<int64_t> pads;
  float value = 0.0f;
  std::string mode = attrs.get_string("mode", "constant");
  if (opset_ < 11) {
    attrs.allow_only({"mode", "pads", "value"});
    pads = attrs.get_ints("pads");
    value = attrs.get_float("value", 0.0f);
  } else {
    attrs.allow_only({"mode"});
    pads = required_constant(node, 1, "pads").to_ints();
    if (node.input_size() > 2 && !node.input(2).empty())
      value = static_cast<float>(required_constant(node, 2, "constant_value").scalar("constant_value"));
    if (node.input_size() > 3 && !node.input(3).empty())
      throw Error::bad_input("the axes input is not supported; list pads for every axis");
  }
  const Dynamic& x = batch_first(node, 0);
  if (mode != "constant" || value != 0.0f)
    throw Error::bad_input("mode '" + mode + "' with value " + std::to_string(value) +
                           " is not supported; shrink folds zero padding into the next "
                           "Conv or AveragePool");
  if (x.sample.size() != 3 || pads.size() != 8 || pads[0] || pads[1] || pads[4] || pads[5] ||
      pads[2] != pads[6] || pads[3] != pads[7] || pads[2] < 0 || pads[3] < 0)
    throw Error::bad_input("pads " + to_string(pads) + " on per-sample shape " +
                           to_string(x.sample) + " are not a symmetric zero padding of H and "
                           "W; shrink folds only that into the next Conv or AveragePool");
  check_extra_outputs_unused(node);
  Dynamic padded = x;
  padded.zero_pad = {pads[2], pads[3]};
  dynamics_[node.output(0)] = padded;
}

// --- the Model -------------------------------------------------------------------------------

Model Importer::build() {
  const onnx::GraphProto& graph = proto_.graph();
  if (graph.output_size() != 1)
    throw Error::bad_input("the graph has " + std::to_string(graph.output_size()) +
                           " outputs; shrink models have exactly one");
  const std::string& output = graph.output(0).name();
  auto it = dynamics_.find(output);
  if (it == dynamics_.end())
    throw Error::bad_input("graph output '" + output + "' does not depend on the input");
  if (!it->second.perm.empty())
    throw Error::bad_input("graph output '" + output + "' is not batch-first");
  std::string output_node = it->second.source;
  for (const ModelInput& in : inputs_)
    if (output_node == in.name) {
      PendingNode p;
      p.name = in.name + "_identity";
      p.type = "Identity";
      p.attributes = Json::object();
      p.inputs = {in.name};
      p.sample_output = in.shape;
      nodes_.push_back(p);
      output_node = p.name;
      break;
    }

  Model model;
  for (const ModelInput& in : inputs_) model.add_input(in.name, in.shape);
  for (const PendingNode& p : nodes_) {
    model.add_node(p.name, make_op(p.type, p.attributes), p.inputs);
    for (const auto& [suffix, value] : p.parameters) {
      Parameter& param = model.parameter(p.name + "." + suffix);
      if (param.value.shape() != value.shape())
        throw Error::internal("parameter " + param.name + " has shape " +
                              to_string(param.value.shape()) + " but the file gives " +
                              to_string(value.shape()));
      param.value = value;
    }
  }
  model.set_output(output_node);

  // A file shrink wrote carries its model's metadata (normalization, classes) along.
  for (const auto& prop : proto_.metadata_props())
    if (prop.key() == "shrink.metadata") {
      Json saved = Json::parse(prop.value(), nullptr, false);
      if (saved.is_object()) model.metadata = std::move(saved);
    }
  // ONNX strings are bytes (proto2 checks no encoding); JSON needs UTF-8, so a byte that is not
  // becomes U+FFFD here rather than an exception when the metadata is written out.
  auto utf8 = [](const std::string& bytes) {
    return Json::parse(Json(bytes).dump(-1, ' ', false, Json::error_handler_t::replace)).get<std::string>();
  };
  std::string producer = proto_.producer_name();
  if (!proto_.producer_version().empty())
    producer += (producer.empty() ? "" : " ") + proto_.producer_version();
  model.metadata["source"] = "onnx";
  model.metadata["producer"] = utf8(producer);
  model.metadata["opset"] = opset_;
  model.metadata["onnx"] = {{"input", utf8(inputs_.front().name)},
                            {"output", utf8(output)},
                            {"ir_version", proto_.ir_version()},
                            {"graph", utf8(graph.name())}};
  // An ONNX file carries no preprocessing; images are most often fed as pixels in [0, 1].
  if (inputs_.size() == 1 && inputs_.front().shape.size() == 3 &&
      !model.metadata.contains("normalization"))
    model.metadata["normalization"] = {
        {"scale", 1.0 / 255.0}, {"mean", Json::array({0.0})}, {"std", Json::array({1.0})}};
  return model;
}

}  // namespace

std::vector<std::string> onnx_import_operators() {
  std::vector<std::string> names;
  for (const auto& entry : Importer::handlers()) names.push_back(entry.first);
  return names;  // a std::map's keys, already sorted
}

Model load_onnx_bytes(const std::string& bytes, const std::string& what,
                      const std::string& base_dir) {
  onnx::ModelProto proto;
  if (!proto.ParseFromString(bytes))
    throw Error::bad_input(what + " is not an ONNX model (the protobuf does not parse)");
  try {
    return Importer(proto, what, base_dir).run();
  } catch (Error& e) {
    throw e.add_context(what);
  }
}

Model load_onnx(const std::string& path) {
  const std::string bytes = read_file(path, "ONNX model");
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  return load_onnx_bytes(bytes, path, dir);
}

}  // namespace shrink
