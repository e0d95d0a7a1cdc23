#include "shrink/nn/model.hpp"

#include "shrink/core/error.hpp"

#include <algorithm>
#include <cmath>

namespace shrink {
namespace {

Shape with_batch(const Shape& sample, int64_t batch) {
  Shape shape{batch};
  shape.insert(shape.end(), sample.begin(), sample.end());
  return shape;
}

Shape without_batch(const Shape& shape) { return Shape(shape.begin() + 1, shape.end()); }

// "[N, 1, 28, 28]": a per-sample shape with its batch axis.
std::string batched_text(const Shape& sample) {
  std::string text = "[N";
  for (int64_t d : sample) text += ", " + std::to_string(d);
  return text + "]";
}

const std::string kSharedPrefix = "input:";

// The trainable state of a parameter's quantizer (TTQ's scales), whose grads backward fills.
std::vector<Parameter*> quantizer_state(Parameter& p) {
  return p.quantized() ? p.quantizer()->state_parameters() : std::vector<Parameter*>{};
}

std::string describe(const Node& node) {
  return "node " + node.name + " (" + node.op->type() + ")";
}

}  // namespace

Model Model::clone() const {
  Model copy;
  copy.inputs_ = inputs_;
  for (const Node& node : nodes_)
    copy.add_node(node.name, make_op(node.op->type(), node.op->attributes()), node.inputs);
  copy.output_name_ = output_name_;
  for (const auto& p : parameters_) {
    Parameter& target = copy.parameter(p->name);
    target = *p;  // value, mask, quantizer; not the gradient
    target.grad = Tensor();
  }
  copy.metadata = metadata;
  copy.rng_ = rng_;
  return copy;
}

void Model::set_input(const std::string& name, const Shape& sample_shape) {
  require(nodes_.empty(), "the model input must be set before any node is added");
  inputs_.clear();
  add_input(name, sample_shape);
}

void Model::add_input(const std::string& name, const Shape& sample_shape) {
  require(!name.empty(), "a model input needs a name");
  require(nodes_.empty(), "model input " + name + " must be added before any node");
  require(input_index(name) < 0, "model input '" + name + "' is defined twice");
  for (int64_t d : sample_shape)
    require(d > 0, "the shape " + to_string(sample_shape) + " of model input " + name +
                       " has a non-positive size");
  element_count(with_batch(sample_shape, 1));  // throws if a sample's size overflows
  inputs_.push_back({name, sample_shape});
}

const std::string& Model::input_name() const {
  require(!inputs_.empty(), "the model has no input");
  return inputs_.front().name;
}

const Shape& Model::input_shape() const {
  require(!inputs_.empty(), "the model has no input");
  return inputs_.front().shape;
}

int Model::input_index(const std::string& name) const {
  for (size_t k = 0; k < inputs_.size(); ++k)
    if (inputs_[k].name == name) return static_cast<int>(k);
  return -1;
}

Node& Model::add_node(const std::string& name, std::unique_ptr<Op> op,
                      std::vector<std::string> inputs) {
  require(!inputs_.empty(), "set the model input before adding node " + name);
  require(!name.empty(), "every node needs a name");
  require(op != nullptr, "node " + name + " has no op");
  require(input_index(name) < 0 && !node_index_.count(name),
          "node name '" + name + "' is used twice");
  if (inputs.empty()) inputs.push_back(nodes_.empty() ? inputs_.front().name : nodes_.back().name);

  Node node;
  node.name = name;
  node.op = std::move(op);
  node.inputs = std::move(inputs);
  try {
    const int arity = node.op->arity();
    const int given = static_cast<int>(node.inputs.size());
    require(arity < 0 ? given >= 1 : given == arity,
            "takes " + (arity < 0 ? std::string("at least 1") : std::to_string(arity)) +
                " input(s), got " + std::to_string(given));
    for (const auto& in : node.inputs)
      require(is_input(in) || node_index_.count(in),
              "input '" + in + "' is not a model input or an earlier node");
    const std::vector<Shape> shapes = input_shapes(node, 1);
    node.output_shape = without_batch(node.op->output_shape(shapes));
    std::vector<Parameter*> resolved;
    for (const ParameterSpec& spec : node.op->parameter_specs(shapes)) {
      // A suffix "input:NAME" shares the parameter NAME of the node this one reads (its first
      // input), which that node created: a DequantizeLinear reads the learned step of the
      // QuantizeLinear before it (nn/ops/linear_quantization.hpp). The parameter stays that
      // node's; this one only reads it.
      if (spec.suffix.rfind(kSharedPrefix, 0) == 0) {
        const std::string shared = node.inputs[0] + "." + spec.suffix.substr(kSharedPrefix.size());
        require(parameter_index_.count(shared),
                "reads parameter '" + shared + "' of its input, which has none by that name");
        node.parameters.push_back(shared);
        resolved.push_back(parameter_index_.at(shared));
        continue;
      }
      Parameter p;
      p.name = name + "." + spec.suffix;
      p.value = Tensor(spec.shape);
      p.trainable = spec.trainable;
      node.parameters.push_back(p.name);
      add_parameter(std::move(p));
      resolved.push_back(parameter_index_.at(node.parameters.back()));
    }
    node_parameters_.push_back(std::move(resolved));
  } catch (Error& e) {
    throw e.add_context(describe(node));
  }
  node_index_[name] = static_cast<int>(nodes_.size());
  nodes_.push_back(std::move(node));
  return nodes_.back();
}

void Model::add_parameter(Parameter parameter) {
  require(!parameter_index_.count(parameter.name),
          "parameter '" + parameter.name + "' is defined twice");
  parameters_.push_back(std::make_unique<Parameter>(std::move(parameter)));
  parameter_index_[parameters_.back()->name] = parameters_.back().get();
}

void Model::set_output(const std::string& node_name) {
  require(node_index_.count(node_name), "output '" + node_name + "' is not a node of the model");
  output_name_ = node_name;
}

void Model::initialize(uint64_t seed) {
  Rng rng(seed);
  for (const Node& node : nodes_) {
    const auto specs = node.op->parameter_specs(input_shapes(node, 1));
    for (size_t i = 0; i < specs.size(); ++i) {
      if (specs[i].suffix.rfind(kSharedPrefix, 0) == 0) continue;  // its owner initialises it
      Tensor& value = parameter(node.parameters[i]).value;
      const float bound = 1.0f / std::sqrt(static_cast<float>(std::max<int64_t>(1, specs[i].fan_in)));
      switch (specs[i].init) {
        case Init::Zeros: value.fill(0.0f); break;
        case Init::Ones: value.fill(1.0f); break;
        // PyTorch's default for Linear/Conv: kaiming_uniform(a=sqrt(5)) gives the same
        // bound 1/sqrt(fan_in) as its bias rule.
        case Init::KaimingUniform:
        case Init::BiasUniform:
          for (float& v : value) v = rng.uniform(-bound, bound);
          break;
      }
    }
  }
  for (auto& p : parameters_) p->apply_mask();  // also marks quantized weights changed
}

const std::string& Model::output_name() const {
  if (!output_name_.empty()) return output_name_;
  if (nodes_.empty()) throw Error::bad_input("the model has no nodes");
  return nodes_.back().name;
}

Shape Model::output_shape() const { return node(output_name()).output_shape; }

const Node& Model::node(const std::string& name) const {
  auto it = node_index_.find(name);
  if (it == node_index_.end()) throw Error::bad_input("no node named '" + name + "' in the model");
  return nodes_[static_cast<size_t>(it->second)];
}

Node* Model::find_node(const std::string& name) {
  auto it = node_index_.find(name);
  return it == node_index_.end() ? nullptr : &nodes_[static_cast<size_t>(it->second)];
}

int Model::node_index(const std::string& name) const {
  // Most models have one input, so this is one string comparison before the map.
  const int input = input_index(name);
  if (input >= 0) return -1 - input;
  return node_index_.at(name);
}

std::vector<Shape> Model::input_shapes(const Node& node, int64_t batch) const {
  std::vector<Shape> shapes;
  for (const auto& in : node.inputs) {
    const int idx = node_index(in);
    shapes.push_back(with_batch(idx < 0 ? inputs_[static_cast<size_t>(-1 - idx)].shape
                                        : nodes_[static_cast<size_t>(idx)].output_shape,
                                batch));
  }
  return shapes;
}

Parameter& Model::parameter(const std::string& name) {
  if (Parameter* p = find_parameter(name)) return *p;
  throw Error::bad_input("no parameter named '" + name + "' in the model");
}

const Parameter& Model::parameter(const std::string& name) const {
  if (const Parameter* p = find_parameter(name)) return *p;
  throw Error::bad_input("no parameter named '" + name + "' in the model");
}

Parameter* Model::find_parameter(const std::string& name) {
  auto it = parameter_index_.find(name);
  return it == parameter_index_.end() ? nullptr : it->second;
}

const Parameter* Model::find_parameter(const std::string& name) const {
  auto it = parameter_index_.find(name);
  return it == parameter_index_.end() ? nullptr : it->second;
}

std::vector<Parameter*> Model::parameters() {
  std::vector<Parameter*> list;
  for (auto& p : parameters_) list.push_back(p.get());
  return list;
}

std::vector<const Parameter*> Model::parameters() const {
  std::vector<const Parameter*> list;
  for (const auto& p : parameters_) list.push_back(p.get());
  return list;
}

int64_t Model::parameter_count() const {
  int64_t n = 0;
  for (const auto& p : parameters_)
    if (p->trainable) n += p->value.numel();
  return n;
}

int64_t Model::macs() const {
  int64_t total = 0;
  for (const Node& node : nodes_) total += node.op->macs(input_shapes(node, 1));
  return total;
}

const Tensor& Model::forward(const Tensor& input, bool training) {
  if (inputs_.size() != 1) {
    std::string names;
    for (const ModelInput& in : inputs_) names += (names.empty() ? "" : ", ") + in.name;
    throw Error::bad_input("the model takes " + std::to_string(inputs_.size()) + " inputs (" +
                           names + "); give one tensor for each");
  }
  return forward(std::vector<const Tensor*>{&input}, training);
}

const Tensor& Model::forward(const std::vector<const Tensor*>& inputs, bool training) {
  if (nodes_.empty()) throw Error::bad_input("the model has no nodes to run");
  // Messages are built only on failure: this runs once per batch, at batch 1 once per sample.
  if (inputs.size() != inputs_.size())
    throw Error::bad_input("the model takes " + std::to_string(inputs_.size()) + " input(s), got " +
                           std::to_string(inputs.size()));
  int64_t batch = -1;
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (inputs[k] == nullptr)
      throw Error::bad_input("model input " + inputs_[k].name + " was given no tensor");
    const Tensor& input = *inputs[k];
    const Shape& sample = inputs_[k].shape;
    if (input.rank() != sample.size() + 1 ||
        !std::equal(sample.begin(), sample.end(), input.shape().begin() + 1))
      throw Error::bad_input("input of shape " + to_string(input.shape()) + " does not match " +
                             (inputs_.size() > 1 ? "model input " + inputs_[k].name + " "
                                                 : std::string("the model input ")) +
                             batched_text(sample));
    if (batch >= 0 && input.dim(0) != batch)
      throw Error::bad_input("model input " + inputs_[k].name + " has a batch of " +
                             std::to_string(input.dim(0)) + " but " + inputs_[0].name +
                             " has " + std::to_string(batch) + "; every input needs the same");
    batch = input.dim(0);
  }
  // Training sees the quantized weights of the current latent weights, whoever changed them.
  if (training)
    for (auto& p : parameters_)
      if (p->quantized()) p->mark_changed();
  values_.resize(nodes_.size());
  has_grad_.clear();
  has_run_ = false;
  last_training_ = training;
  const int out = node_index(output_name());
  // One OpArgs and output shape for every node, refilled in place rather than allocated per
  // node: at batch 1 the bookkeeping of a node is as costly as a small layer.
  OpArgs args;
  args.training = training;
  args.rng = &rng_;
  Shape shape;
  for (size_t i = 0; i <= static_cast<size_t>(out); ++i) {
    Node& node = nodes_[i];
    args.inputs.clear();
    for (const auto& in : node.inputs) {
      const int idx = node_index(in);
      args.inputs.push_back(idx < 0 ? inputs[static_cast<size_t>(-1 - idx)]
                                    : &values_[static_cast<size_t>(idx)]);
    }
    args.params.assign(node_parameters_[i].begin(), node_parameters_[i].end());
    try {
      shape.assign(1, batch);
      shape.insert(shape.end(), node.output_shape.begin(), node.output_shape.end());
      values_[i].resize(shape);
      node.op->forward(args, values_[i]);
    } catch (Error& e) {
      throw e.add_context(describe(node));
    }
  }
  // Keep a copy of each input a backward pass would read; the others (an MLP's input, read
  // only by a Flatten that backward skips) cost nothing.
  kept_ = inputs_read_by_backward();
  kept_inputs_.resize(inputs_.size());
  for (size_t k = 0; k < inputs_.size(); ++k) {
    if (kept_[k]) kept_inputs_[k] = *inputs[k];
    else kept_inputs_[k] = Tensor();
  }
  has_run_ = true;
  return values_[static_cast<size_t>(out)];
}

std::vector<char> Model::nodes_needing_gradient(int out) const {
  // A value needs a gradient only if a trainable parameter lies upstream of it: the gradient of
  // a value computed from the model input alone (a Flatten, say) would be thrown away, and for
  // the first Linear of an MLP it costs a whole matrix product.
  std::vector<char> needs_grad(nodes_.size(), 0);
  for (size_t i = 0; i <= static_cast<size_t>(out); ++i) {
    for (const Parameter* p : node_parameters_[i]) needs_grad[i] |= p->trainable;
    for (const auto& in : nodes_[i].inputs) {
      const int idx = node_index(in);
      if (idx >= 0) needs_grad[i] |= needs_grad[static_cast<size_t>(idx)];
    }
  }
  return needs_grad;
}

std::vector<char> Model::inputs_read_by_backward() const {
  // Backward runs the output node and every node that needs a gradient.
  const int out = node_index(output_name());
  const std::vector<char> needs_grad = nodes_needing_gradient(out);
  std::vector<char> read(inputs_.size(), 0);
  for (size_t i = 0; i <= static_cast<size_t>(out); ++i) {
    if (!needs_grad[i] && static_cast<int>(i) != out) continue;
    for (const auto& in : nodes_[i].inputs) {
      const int idx = node_index(in);
      if (idx < 0) read[static_cast<size_t>(-1 - idx)] = 1;
    }
  }
  return read;
}

const Tensor& Model::value(const std::string& node_name) const {
  auto it = node_index_.find(node_name);
  if (it == node_index_.end()) {
    std::string known;
    for (const Node& node : nodes_) known += (known.empty() ? "" : ", ") + node.name;
    throw Error::bad_input("the model has no node named '" + node_name + "'; its nodes: " + known);
  }
  require(has_run_, "node " + node_name + " has no value before a forward pass");
  require(it->second <= node_index(output_name()),
          "node " + node_name + " comes after the model's output " + output_name() +
              ", so a forward pass does not compute it");
  return values_[static_cast<size_t>(it->second)];
}

void Model::backward(const Tensor& grad_output, bool accumulate,
                     const ActivationGradients* activation_grads) {
  require(has_run_, "backward needs a forward pass first");
  const int out = node_index(output_name());
  if (grad_output.shape() != values_[static_cast<size_t>(out)].shape())
    throw Error::bad_input("output gradient of shape " + to_string(grad_output.shape()) +
                           " does not match the output " +
                           to_string(values_[static_cast<size_t>(out)].shape()));
  for (auto& p : parameters_) {
    if (p->grad.shape() != p->value.shape()) p->grad = Tensor(p->value.shape());
    for (Parameter* state : quantizer_state(*p))
      if (state->grad.shape() != state->value.shape() || !accumulate)
        state->grad = Tensor(state->value.shape());
  }

  const std::vector<char> needs_grad = nodes_needing_gradient(out);

  grads_.resize(nodes_.size());
  std::vector<char> has_grad(nodes_.size(), 0);
  std::vector<char> ran(nodes_.size(), 0);
  grads_[static_cast<size_t>(out)] = grad_output;
  has_grad[static_cast<size_t>(out)] = 1;
  // Gradients injected at hidden activations start there; what flows back from consumers is
  // added to them as for any value with several consumers.
  if (activation_grads != nullptr) {
    for (const auto& [name, gradient] : *activation_grads) {
      const size_t idx = static_cast<size_t>(node_index_.count(name) ? node_index_.at(name) : -1);
      require(node_index_.count(name) && static_cast<int>(idx) <= out,
              "a gradient was given for node '" + name + "', which the last forward pass did "
              "not compute");
      require(gradient.shape() == values_[idx].shape(),
              "the gradient for node " + name + " has shape " + to_string(gradient.shape()) +
                  " but its value has shape " + to_string(values_[idx].shape()));
      if (!needs_grad[idx]) continue;  // nothing trainable upstream: it would go nowhere
      if (has_grad[idx]) {
        grads_[idx].flat() += gradient.flat();
      } else {
        grads_[idx] = gradient;
        has_grad[idx] = 1;
      }
    }
  }

  for (int i = out; i >= 0; --i) {
    if (!has_grad[static_cast<size_t>(i)]) continue;
    Node& node = nodes_[static_cast<size_t>(i)];
    OpArgs args;
    std::vector<Tensor*> grad_inputs(node.inputs.size(), nullptr);
    std::vector<std::pair<size_t, int>> to_add;  // (scratch slot, producer)
    // Sized up front: grad_inputs keeps pointers into scratch_.
    if (scratch_.size() < node.inputs.size()) scratch_.resize(node.inputs.size());
    for (size_t j = 0; j < node.inputs.size(); ++j) {
      const int idx = node_index(node.inputs[j]);
      if (idx < 0) {
        const size_t k = static_cast<size_t>(-1 - idx);
        // Only if a parameter's trainable flag changed since the forward pass.
        require(kept_[k], "backward needs model input " + inputs_[k].name + ", which the last "
                "forward pass did not keep: run forward again after changing what is trainable");
        args.inputs.push_back(&kept_inputs_[k]);
        continue;
      }
      args.inputs.push_back(&values_[static_cast<size_t>(idx)]);
      if (!needs_grad[static_cast<size_t>(idx)]) continue;
      if (!has_grad[static_cast<size_t>(idx)]) {
        grad_inputs[j] = &grads_[static_cast<size_t>(idx)];
        has_grad[static_cast<size_t>(idx)] = 1;
      } else {
        // A value with several consumers sums their gradients.
        grad_inputs[j] = &scratch_[to_add.size()];
        to_add.emplace_back(to_add.size(), idx);
      }
    }
    args.params = node_parameters_[static_cast<size_t>(i)];
    args.training = last_training_;
    args.rng = &rng_;
    args.overwrite_grads = !accumulate && node.op->overwrites_grads();
    if (!accumulate)
      for (Parameter* p : args.params)
        if (!args.overwrite_grads || !p->trainable) p->grad.zero();
    // A quantized weight's op writes d loss / d effective weight; its quantizer turns this
    // pass's share into d loss / d latent weight, so what was accumulated before waits aside.
    std::vector<std::pair<Parameter*, Tensor>> earlier;
    for (Parameter* p : args.params)
      if (p->quantized() && p->trainable && accumulate) {
        earlier.emplace_back(p, p->grad);
        p->grad.zero();
      }
    try {
      node.op->backward(args, values_[static_cast<size_t>(i)], grads_[static_cast<size_t>(i)],
                        grad_inputs);
      for (Parameter* p : args.params)
        if (p->quantized() && p->trainable) p->quantizer()->backward(p->value, p->grad);
    } catch (Error& e) {
      throw e.add_context(describe(node));
    }
    for (auto& [p, grad] : earlier) p->grad.flat() += grad.flat();
    ran[static_cast<size_t>(i)] = 1;
    for (const auto& [slot, producer] : to_add)
      grads_[static_cast<size_t>(producer)].flat() += scratch_[slot].flat();
  }
  if (!accumulate)
    for (size_t i = 0; i < nodes_.size(); ++i)
      if (!ran[i])
        for (Parameter* p : node_parameters_[i]) p->grad.zero();
  has_grad_ = std::move(has_grad);
}

const Tensor& Model::gradient(const std::string& node_name) const {
  value(node_name);  // checks the name and that the forward pass computed it
  const size_t idx = static_cast<size_t>(node_index_.at(node_name));
  require(idx < has_grad_.size() && has_grad_[idx],
          "node " + node_name + " has no gradient: the last backward pass did not reach it "
          "(run backward after the forward pass; only values with a trainable parameter "
          "upstream get one)");
  return grads_[idx];
}

void Model::zero_grad() {
  for (auto& p : parameters_) {
    std::vector<Parameter*> all = quantizer_state(*p);
    all.push_back(p.get());
    for (Parameter* q : all) {
      if (q->grad.shape() != q->value.shape()) q->grad = Tensor(q->value.shape());
      else q->grad.zero();
    }
  }
}

nlohmann::json Model::graph_json() const {
  nlohmann::json nodes = nlohmann::json::array();
  for (const Node& node : nodes_)
    nodes.push_back({{"name", node.name},
                     {"type", node.op->type()},
                     {"inputs", node.inputs},
                     {"attributes", node.op->attributes()}});
  nlohmann::json graph = {{"nodes", nodes}, {"output", output_name()}};
  if (inputs_.size() == 1) {
    graph["input"] = {{"name", inputs_[0].name}, {"shape", inputs_[0].shape}};
  } else {
    graph["inputs"] = nlohmann::json::array();
    for (const ModelInput& in : inputs_)
      graph["inputs"].push_back({{"name", in.name}, {"shape", in.shape}});
  }
  return graph;
}

Model Model::from_graph_json(const nlohmann::json& graph) {
  require(graph.is_object(), "a graph description must be a JSON object");
  const bool one = graph.contains("input");
  const nlohmann::json inputs = one ? nlohmann::json::array({graph["input"]})
                                    : graph.value("inputs", nlohmann::json::array());
  require(one != graph.contains("inputs") && !inputs.empty(),
          "the graph needs \"input\": {\"name\": ..., \"shape\": [...]} (or \"inputs\": a "
          "list of them)");
  for (const auto& in : inputs) {
    require(in.is_object() && in.contains("shape"),
            "every graph input needs {\"name\": ..., \"shape\": [...]}");
    // Sizes read as integers only: a JSON number past int64 is a double, whose conversion
    // would be undefined.
    const nlohmann::json& shape = in["shape"];
    bool whole = shape.is_array();
    for (const auto& size : shape) whole = whole && size.is_number_integer();
    require(whole, "a graph input's \"shape\" must be a list of whole numbers, got " + shape.dump());
  }
  require(graph.contains("nodes") && graph["nodes"].is_array() && !graph["nodes"].empty(),
          "the graph needs a non-empty \"nodes\" list");
  Model model;
  try {
    for (const auto& in : inputs)
      model.add_input(in.value("name", std::string("input")), in["shape"].get<Shape>());
    size_t position = 0;
    for (const auto& entry : graph["nodes"]) {
      ++position;
      require(entry.is_object() && entry.contains("type") && entry["type"].is_string(),
              "graph node " + std::to_string(position) + " needs a \"type\"");
      const std::string type = entry["type"].get<std::string>();
      const std::string name = entry.value("name", type + std::to_string(position));
      auto inputs = entry.value("inputs", std::vector<std::string>{});
      model.add_node(name, make_op(type, entry.value("attributes", nlohmann::json::object())),
                     std::move(inputs));
    }
    if (graph.contains("output")) model.set_output(graph["output"].get<std::string>());
  } catch (const nlohmann::json::exception& e) {
    throw Error::bad_input(std::string("malformed graph description: ") + e.what());
  }
  return model;
}

}  // namespace shrink
