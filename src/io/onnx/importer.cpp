// ONNX -> Model: the Importer's core (see importer.hpp). It reads the opset, the graph inputs and
// the initializers, folds constant nodes (fold.cpp), hands every other node to its operator
// importer (op_importers.cpp) and builds the Model once the whole graph has been read.
#include "io/onnx/importer.hpp"

#include "io/onnx/op_importers.hpp"
#include "shrink/core/error.hpp"
#include "shrink/core/file.hpp"
#include "shrink/io/onnx.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <optional>

namespace shrink::onnx_io {
namespace {

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

// Operators whose versions before some opset mean something other than what shrink reads, and
// how: such a node is refused unless `attribute` is given (with `value`, when one is named). The
// other operators mean the same since opset 1, or their older forms carry an attribute that
// Attributes::allow_only refuses (consumed_inputs before opset 6, broadcast and axis of the
// arithmetic operators before opset 7, Pad's paddings before opset 2).
struct OlderForm {
  int since;
  const char* difference;
  const char* attribute;
  std::optional<int64_t> value;
};

void check_older_form(const onnx::NodeProto& node, int opset) {
  static const std::map<std::string, OlderForm> kOlderForms = {
      {"BatchNormalization",
       {7, "is_test=0, the default, normalizes with the batch's statistics", "is_test", 1}},
      {"Cast", {6, "'to' names the type as a string", nullptr, std::nullopt}},
      {"Concat", {4, "a missing axis means axis 1", "axis", std::nullopt}},
      {"Dropout", {7, "is_test=0, the default, drops activations at random", "is_test", 1}},
      {"Reshape", {5, "the target shape is an attribute", nullptr, std::nullopt}},
  };
  auto it = kOlderForms.find(node.op_type());
  if (it == kOlderForms.end() || opset >= it->second.since) return;
  const OlderForm& form = it->second;
  const Attributes attrs(node);
  if (form.attribute && attrs.has(form.attribute) &&
      (!form.value || attrs.get_int(form.attribute, 0) == *form.value))
    return;
  throw Error::bad_input(
      "before opset " + std::to_string(form.since) + " " + node.op_type() + " differs: " +
      form.difference + (form.attribute ? "; shrink reads it with " + std::string(form.attribute) +
                                              (form.value ? "=" + std::to_string(*form.value)
                                                          : " given")
                                        : std::string()) +
      " (or convert the model to opset " + std::to_string(form.since) +
      " or later with onnx.version_converter)");
}

}  // namespace

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

// The first graph input that is not an initializer carries the batch: its axis 0 is the batch
// and the rest the per-sample shape. Every other input shares that batch axis, unless its shape
// says it cannot (a scalar, or a fixed leading size other than the batch's): such an input is
// read once, as a constant broadcast over the batch, and needs its value when the model is
// loaded (`input_values`; `shrink run --input NAME=FILE`). So is an input that a translation
// needs constant (a weight, a Clip bound, ...), whatever its shape: see required_constant.
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
    if (!tensor_type.has_shape())
      throw Error::bad_input(where + " has no known shape; shrink needs one");
    const auto& dims = tensor_type.shape().dim();
    const auto given = input_values_.find(in.name());
    if (given != input_values_.end()) {
      std::vector<int64_t> declared;
      for (const auto& d : dims) declared.push_back(d.has_dim_value() ? d.dim_value() : -1);
      declared_dims_[in.name()] = declared;
    }
    const bool fixed_leading = dims.size() > 0 && dims[0].has_dim_value() && dims[0].dim_value() > 0;
    const bool shares_batch =
        inputs_.empty() ? dims.size() > 0
                        : dims.size() > 0 && (!fixed_leading || !fixed_batch_ ||
                                              *fixed_batch_ == dims[0].dim_value());
    if (!shares_batch) {
      if (inputs_.empty())
        throw Error::bad_input(where + " is a scalar; shrink reads the first graph input as a "
                               "batch [N, ...]");
      // Read once and broadcast over the batch, as an initializer would be.
      const std::string reason =
          dims.size() == 0 ? where + " is a scalar"
                           : where + " has batch size " + std::to_string(dims[0].dim_value()) +
                                 " but graph input '" + inputs_.front().name + "' has " +
                                 std::to_string(*fixed_batch_);
      if (given == input_values_.end())
        throw Error::bad_input(reason + ": shrink reads it once, as a constant broadcast over " +
                               "the batch, and needs its value when loading the model " +
                               "(shrink run --input " + in.name() + "=FILE)");
      constants_[in.name()] = given_value(in.name());
      continue;
    }
    if (fixed_leading) fixed_batch_ = dims[0].dim_value();
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

Constant Importer::given_value(const std::string& name) const {
  const Tensor& value = input_values_.at(name);
  const std::vector<int64_t>& declared = declared_dims_.at(name);
  bool fits = value.rank() == declared.size();
  for (size_t i = 0; fits && i < declared.size(); ++i)
    fits = declared[i] < 0 || declared[i] == value.dim(i);
  if (!fits) {
    std::string text;
    for (int64_t d : declared) text += (text.empty() ? "" : ", ") + (d < 0 ? "?" : std::to_string(d));
    throw Error::bad_input("graph input '" + name + "' is declared [" + text + "] but the value " +
                           "given for it has shape " + to_string(value.shape()));
  }
  read_as_constant_.insert(name);
  return onnx_io::float_constant(value);
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
  if (const Constant* c = constant(node, i)) return *c;
  // A graph input in a slot shrink needs constant (a weight given as an input): its value
  // given when loading, which then stands for the input everywhere it is read as a constant.
  const std::string& name = node.input(i);
  if (declared_dims_.count(name)) {
    auto it = read_at_load_.find(name);
    if (it == read_at_load_.end()) it = read_at_load_.emplace(name, given_value(name)).first;
    return it->second;
  }
  if (std::any_of(inputs_.begin(), inputs_.end(), [&](const ModelInput& in) { return in.name == name; }))
    throw Error::bad_input(std::string("the ") + what + " '" + name + "' is a graph input; " +
                           "shrink needs it constant: give its value when loading the model " +
                           "(shrink run --input " + name + "=FILE) or store it as an initializer");
  throw Error::bad_input(std::string("the ") + what + " '" + name +
                         "' is computed at run time; shrink needs it to be a constant " +
                         "(an initializer or a constant subgraph)");
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
  dynamic(name);  // throws for a value across the batch axis
  if (it->second.zero_pad != std::array<int64_t, 2>{0, 0})
    throw Error::bad_input("input '" + name + "' comes from a Pad; shrink supports Pad only " +
                           "directly before a Conv or an AveragePool");
  return it->second;
}

const Dynamic& Importer::dynamic(const std::string& onnx_name) const {
  const Dynamic& value = dynamics_.at(onnx_name);
  if (value.mixed_batch)
    throw Error::bad_input("input '" + onnx_name + "' comes from an operator across the batch " +
                           "axis; shrink supports such an operator only as the last one, giving " +
                           "the graph output");
  return value;
}

bool Importer::is_graph_output(const std::string& onnx_name) const {
  for (const auto& out : proto_.graph().output())
    if (out.name() == onnx_name) return true;
  return false;
}

void Importer::emit_across_batch(const onnx::NodeProto& node, const std::string& type,
                                 Json attributes, const std::vector<std::string>& inputs,
                                 const std::string& why) {
  if (!is_graph_output(node.output(0)) || uses_.at(node.output(0)) != 1)
    throw Error::bad_input(why + "; shrink supports that only in the operator that gives the " +
                           "graph output (the model then runs for inference only)");
  attributes["across_batch"] = true;
  emit(node, type, std::move(attributes), inputs);
  dynamics_.at(node.output(0)).mixed_batch = true;
}

const Dynamic& Importer::padded_input(const onnx::NodeProto& node, int i,
                                      std::array<int64_t, 2>& pad) const {
  pad = {0, 0};
  if (i < node.input_size()) {
    auto it = dynamics_.find(node.input(i));
    if (it != dynamics_.end() && it->second.perm.empty() && !it->second.mixed_batch) {
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
  // ONNX Runtime's QDQ files read a weight through "<initializer>_DequantizeLinear_Output".
  std::string weight = weight_name;
  const std::string dequantized = "_DequantizeLinear_Output";
  if (weight.size() > dequantized.size() && weight.ends_with(dequantized))
    weight.resize(weight.size() - dequantized.size());
  const std::string suffix = ".weight";
  if (weight.size() > suffix.size() && weight.ends_with(suffix))
    base = weight.substr(0, weight.size() - suffix.size());
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
  p.weight_source = weight_name;
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

void Importer::define_constant(const std::string& onnx_name, Constant value) {
  constants_[onnx_name] = std::move(value);
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
    check_older_form(node, opset_);
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
        if (node.op_type() == "DequantizeLinear")
          dequantized_[node.output(0)] = describe_dequantize(node, inputs);
        return;
      }
    }
    auto it = op_importers().find(node.op_type());
    if (it == op_importers().end()) {
      std::string known;
      for (const auto& entry : op_importers()) known += (known.empty() ? "" : ", ") + entry.first;
      throw Error::bad_input("operator " + node.op_type() + " is not supported" +
                             (all_constant ? " on constant inputs" : "") +
                             " (shrink imports " + known + ")");
    }
    const Attributes attrs(node);
    it->second(*this, node, attrs);
  } catch (Error& e) {
    throw e.add_context(label);
  }
}

// --- translations --------------------------------------------------------------------------

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

// --- the Model -------------------------------------------------------------------------------

std::string Importer::keep_int8_codes(const PendingNode& p, Parameter& weight) const {
  const auto it = dequantized_.find(p.weight_source);
  if (it == dequantized_.end()) return "";
  std::string why = "the int8 kernels run Conv2d, Linear and MatMul weights, not " + p.type;
  if (p.type == "Conv2d" || p.type == "Linear" || p.type == "MatMul")
    why = adopt_int8_codes(weight, it->second, p.weight_output_axis);
  if (why.empty()) return "";
  return weight.name + " (ONNX " + p.weight_source + ") kept in fp32: " + why;
}

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

  // A graph input read only as a constant (its value given when loading) is no model input.
  std::set<std::string> read_by_nodes;
  for (const PendingNode& p : nodes_) read_by_nodes.insert(p.inputs.begin(), p.inputs.end());
  std::erase_if(inputs_, [&](const ModelInput& in) {
    return read_as_constant_.count(in.name) && !read_by_nodes.count(in.name);
  });
  if (inputs_.empty())
    throw Error::bad_input("every graph input is read as a constant; shrink models take at "
                           "least one batch-first input");
  Model model;
  std::vector<std::string> fp32_weights;  // int8 codes the int8 kernels cannot take, and why
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
      if (suffix != "weight") continue;
      if (std::string note = keep_int8_codes(p, param); !note.empty()) fp32_weights.push_back(note);
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
  if (!fp32_weights.empty()) model.metadata["onnx"]["fp32_weights"] = fp32_weights;
  // The graph inputs whose values were given when loading and are now constants of the model.
  if (!read_as_constant_.empty()) {
    model.metadata["onnx"]["constant_inputs"] = Json::array();
    for (const std::string& name : read_as_constant_)
      model.metadata["onnx"]["constant_inputs"].push_back(utf8(name));
  }
  // An ONNX file carries no preprocessing; images are most often fed as pixels in [0, 1].
  if (inputs_.size() == 1 && inputs_.front().shape.size() == 3 &&
      !model.metadata.contains("normalization"))
    model.metadata["normalization"] = {
        {"scale", 1.0 / 255.0}, {"mean", Json::array({0.0})}, {"std", Json::array({1.0})}};
  return model;
}

}  // namespace shrink::onnx_io

namespace shrink {

std::vector<std::string> onnx_import_operators() {
  std::vector<std::string> names;
  for (const auto& entry : onnx_io::op_importers()) names.push_back(entry.first);
  return names;  // a std::map's keys, already sorted
}

Model load_onnx_bytes(const std::string& bytes, const std::string& what,
                      const std::string& base_dir,
                      const std::map<std::string, Tensor>& input_values) {
  onnx::ModelProto proto;
  if (!proto.ParseFromString(bytes))
    throw Error::bad_input(what + " is not an ONNX model (the protobuf does not parse)");
  try {
    return onnx_io::Importer(proto, what, base_dir, input_values).run();
  } catch (Error& e) {
    throw e.add_context(what);
  }
}

Model load_onnx(const std::string& path, const std::map<std::string, Tensor>& input_values) {
  const std::string bytes = read_file(path, "ONNX model");
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  Model model = load_onnx_bytes(bytes, path, dir, input_values);
  // A QDQ file's int8 weights the int8 kernels cannot take were dequantized: one line each.
  if (model.metadata["onnx"].contains("fp32_weights"))
    for (const auto& line : model.metadata["onnx"]["fp32_weights"]) spdlog::warn("{}", line.get<std::string>());
  return model;
}

}  // namespace shrink