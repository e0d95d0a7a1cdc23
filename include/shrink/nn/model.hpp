#pragma once
// A model is a DAG of named nodes over one or more batch-first inputs. Each node owns an Op and
// refers to its inputs by name (another node, or a model input); its parameters are named
// "<node>.<suffix>".
#include "shrink/core/random.hpp"
#include "shrink/core/tensor.hpp"
#include "shrink/nn/op.hpp"
#include "shrink/nn/parameter.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace shrink {

// Gradients to add at intermediate activations during backward, by node name (a distillation
// loss on a hidden layer); each has the node's activation shape, batch included.
using ActivationGradients = std::map<std::string, Tensor>;

// A model input: its name and per-sample shape (the batch dimension is left out; it is the same
// for every input of one forward pass). An empty shape is one scalar per sample.
struct ModelInput {
  std::string name;
  Shape shape;
  bool operator==(const ModelInput&) const = default;
};

struct Node {
  std::string name;
  std::unique_ptr<Op> op;
  std::vector<std::string> inputs;      // node names or model input names
  std::vector<std::string> parameters;  // full parameter names, in the op's spec order
  Shape output_shape;                   // per sample (no batch dimension)
};

class Model {
 public:
  Model() = default;
  Model(Model&&) noexcept = default;
  Model& operator=(Model&&) noexcept = default;
  Model clone() const;  // deep copy: ops rebuilt from their attributes, parameters copied

  // --- building -------------------------------------------------------------------------
  // Makes `name` the model's only input, of per-sample shape e.g. [1, 28, 28]. Inputs must be
  // set before adding nodes.
  void set_input(const std::string& name, const Shape& sample_shape);
  // Adds one more input (the first call on an empty model is set_input).
  void add_input(const std::string& name, const Shape& sample_shape);
  // Appends a node after its inputs; creates its parameters (zero until initialize()).
  // Empty `inputs` means "the previous node" (or the model input for the first node).
  Node& add_node(const std::string& name, std::unique_ptr<Op> op,
                 std::vector<std::string> inputs = {});
  // The node whose value the model returns; defaults to the last node added.
  void set_output(const std::string& node_name);
  // Draws every parameter from its Init rule (PyTorch's default initialisation).
  void initialize(uint64_t seed);

  // --- structure ------------------------------------------------------------------------
  const std::vector<ModelInput>& inputs() const { return inputs_; }
  // The first input's name and per-sample shape: for the single-input models that training,
  // evaluation and the passes work on, the input.
  const std::string& input_name() const;
  const Shape& input_shape() const;
  bool is_input(const std::string& name) const { return input_index(name) >= 0; }
  const std::string& output_name() const;
  Shape output_shape() const;  // per sample
  const std::vector<Node>& nodes() const { return nodes_; }
  std::vector<Node>& nodes() { return nodes_; }
  const Node& node(const std::string& name) const;
  Node* find_node(const std::string& name);
  // Shapes of a node's inputs with a leading batch dimension.
  std::vector<Shape> input_shapes(const Node& node, int64_t batch = 1) const;

  // --- parameters -----------------------------------------------------------------------
  Parameter& parameter(const std::string& name);
  const Parameter& parameter(const std::string& name) const;
  Parameter* find_parameter(const std::string& name);
  const Parameter* find_parameter(const std::string& name) const;
  // All parameters in creation order (stable, so files and reports are reproducible).
  std::vector<Parameter*> parameters();
  std::vector<const Parameter*> parameters() const;
  int64_t parameter_count() const;  // trainable elements
  int64_t macs() const;             // per sample, one forward pass

  // --- running --------------------------------------------------------------------------
  // Runs the graph on a batch [N, ...input_shape]; the result lives until the next forward.
  // The model must have exactly one input. The model keeps (copies) what a later backward
  // needs of the input, so the caller's tensor may go away after the call.
  const Tensor& forward(const Tensor& input, bool training = false);
  // Any number of inputs: one tensor per entry of inputs(), in that order, all of the same
  // batch size N, each [N, ...shape].
  const Tensor& forward(const std::vector<const Tensor*>& inputs, bool training = false);
  // Backpropagates d loss / d output through the last forward (which must have been training),
  // adding into every trainable parameter's grad. With accumulate = false every grad is set to
  // this pass's gradient instead (zero where none flows), as zero_grad() then backward() would,
  // but ops that can write their gradients directly skip the separate zeroing pass.
  // `activation_grads`, when given, are added to the gradients of the named nodes' outputs.
  void backward(const Tensor& grad_output, bool accumulate = true,
                const ActivationGradients* activation_grads = nullptr);
  // A node's output from the last forward pass (valid until the next forward); throws a
  // bad-input Error naming the known nodes when there is no such node, or it did not run.
  const Tensor& value(const std::string& node_name) const;
  // The gradient of the loss with respect to a node's output from the last backward pass (valid
  // until the next forward or backward); a bad-input Error when that pass computed none for it
  // (no trainable parameter upstream of it, or it lies after the output).
  const Tensor& gradient(const std::string& node_name) const;
  void zero_grad();
  // Seed of the stream stochastic ops (Dropout) draw from.
  void set_seed(uint64_t seed) { rng_ = Rng(seed); }

  // Free-form facts about the model: classes, normalization, provenance (saved with it).
  nlohmann::json metadata = nlohmann::json::object();

  // --- graph description ----------------------------------------------------------------
  // {"input": {"name", "shape"}, "nodes": [{"name","type","inputs","attributes"}], "output"};
  // a model with several inputs lists them as "inputs": [{"name", "shape"}, ...] instead.
  nlohmann::json graph_json() const;
  // Builds the graph (parameters zero-initialised). Nodes without "inputs" follow the
  // previous node, so a chain can be written as a plain list.
  static Model from_graph_json(const nlohmann::json& graph);

 private:
  // The node's position, or -1 - k for the model's k-th input.
  int node_index(const std::string& name) const;
  int input_index(const std::string& name) const;  // -1 when no input has this name
  void add_parameter(Parameter parameter);
  // Per node up to `out`: whether a trainable parameter lies upstream (backward computes a
  // gradient for its value).
  std::vector<char> nodes_needing_gradient(int out) const;
  // Per model input: whether a backward pass now would run a node that reads it.
  std::vector<char> inputs_read_by_backward() const;

  std::vector<ModelInput> inputs_;
  std::string output_name_;
  std::vector<Node> nodes_;
  std::map<std::string, int> node_index_;
  std::vector<std::unique_ptr<Parameter>> parameters_;
  std::map<std::string, Parameter*> parameter_index_;
  std::vector<std::vector<Parameter*>> node_parameters_;  // per node, resolved
  Rng rng_{0};

  // Activations of the last forward pass and their gradients, one per node. The inputs a
  // backward pass reads are copied: the caller's tensors may be gone by then.
  bool has_run_ = false;
  bool last_training_ = false;
  std::vector<Tensor> kept_inputs_;
  std::vector<char> kept_;
  std::vector<Tensor> values_;
  std::vector<Tensor> grads_;
  std::vector<char> has_grad_;  // which grads_ the last backward pass computed
  std::vector<Tensor> scratch_;
};

}  // namespace shrink
