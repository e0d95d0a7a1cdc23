#include "shrink/nn/int8_execution.hpp"

#include "core/environment.hpp"
#include "nn/graph_readers.hpp"
#include "nn/kernels/int8_layers.hpp"
#include "nn/kernels/onednn.hpp"
#include "nn/kernels/pool_window.hpp"
#include "nn/ops/int8_ops.hpp"
#include "nn/ops/linear_quantization.hpp"
#include "shrink/core/error.hpp"

#include <map>
#include <set>

namespace shrink {
namespace {

using Json = nlohmann::json;

kernels::ActivationCodes codes_of(const Model& model, const Node& node) {
  const Json a = ops::inference_attributes(model, node);
  return {a.at("scale").get<float>(), a.value("zero_point", 0),
          a.value("type", std::string("uint8")) == "int8"};
}

// Whether `node` is a layer with an 8-bit symmetric weight the int8 ops take.
bool lowerable_layer(const Model& model, const Node& node) {
  const std::string type = node.op->type();
  if (type != "Linear" && type != "MatMul" && type != "Conv2d") return false;
  // Conv2d: one group (grouped and depthwise convolutions keep the QDQ graph).
  if (type == "Conv2d" && node.op->attributes().value("groups", 1) != 1) return false;
  if (node.parameters.empty() || !kernels::has_int8_weights(model.parameter(node.parameters[0])))
    return false;
  // MatMul: a 2-D input only ([N, K]; the int8 op does not batch leading axes).
  return type != "MatMul" || model.input_shapes(node)[0].size() == 2;
}

// Ops that give the same result on codes as on values, then quantized: they only select or move
// elements.
bool preserves_codes(const Node& node) {
  const std::string type = node.op->type();
  return type == "MaxPool2d" || type == "GlobalMaxPool" || type == "Flatten" || type == "Reshape" ||
         type == "Identity";
}

// Whether oneDNN's max pooling can run `pool` inside the int8 convolution before it: no
// dilation, every window holds an input position, and the windows end within the padding
// after (oneDNN takes the padding the output size implies, which cannot be negative).
bool fusable_pool(const Model& model, const Node& pool) {
  if (pool.op->type() != "MaxPool2d") return false;
  const auto axes = kernels::read_pool_axes(pool.op->attributes(), "MaxPool2d", true);
  const Shape input = model.input_shapes(pool)[0];  // [1, C, H, W]
  for (int k = 0; k < 2; ++k) {
    const kernels::PoolAxis& axis = axes[static_cast<size_t>(k)];
    const int64_t in = input[static_cast<size_t>(2 + k)];
    const int64_t out = axis.output_size(in);
    if (axis.dilation != 1 || out < 1 || !axis.every_window_real(in) ||
        (out - 1) * axis.stride + axis.kernel - in - axis.pad_begin < 0 ||
        (out - 1) * axis.stride + axis.kernel - in - axis.pad_begin > axis.pad_end)
      return false;
  }
  return true;
}

}  // namespace

bool int8_execution_enabled() {
  static const bool enabled = auto_or_off("SHRINK_INT8", "an int8 execution");
  return enabled;
}

std::vector<Int8LayerPlan> plan_int8_execution(const Model& model) {
  const GraphReaders readers(model);

  std::vector<Int8LayerPlan> plans;
  std::set<std::string> lowered;
  for (const Node& node : model.nodes()) {
    if (!lowerable_layer(model, node) || model.is_input(node.inputs[0])) continue;
    const Node& dequantize = model.node(node.inputs[0]);
    if (dequantize.op->type() != "DequantizeLinear" || model.is_input(dequantize.inputs[0])) continue;
    const Node& quantize = model.node(dequantize.inputs[0]);
    if (quantize.op->type() != "QuantizeLinear" ||
        ops::inference_attributes(model, quantize) != ops::inference_attributes(model, dequantize))
      continue;
    Int8LayerPlan plan;
    plan.layer = node.name;
    plan.type = node.op->type();
    plan.input = quantize.name;
    plan.input_type = codes_of(model, quantize).is_signed ? "int8" : "uint8";
    plan.split_weights = kernels::splits_weights(model.parameter(node.parameters[0]));
    std::string last = node.name;
    if (const Node* relu = readers.only(last); relu && relu->op->type() == "ReLU") {
      plan.relu = relu->name;
      plan.removed.push_back(relu->name);
      last = relu->name;
    }
    // Max pooling and reshapes between the layer and the next QuantizeLinear commute with it
    // (quantization is monotone: Q(max(a, b)) = max(Q(a), Q(b))), so they can run on codes.
    std::vector<std::string> through;
    std::string tail = last;
    for (const Node* next = readers.only(tail); next && next->inputs.size() == 1 && preserves_codes(*next);
         next = readers.only(tail)) {
      through.push_back(next->name);
      tail = next->name;
    }
    plan.output_type = "fp32";
    if (const Node* next = readers.only(tail); next && next->op->type() == "QuantizeLinear") {
      plan.output = next->name;
      plan.output_type = codes_of(model, *next).is_signed ? "int8" : "uint8";
      plan.through = through;
      plan.removed.push_back(next->name);
      if (plan.type == "Conv2d" && !through.empty() && fusable_pool(model, model.node(through.front()))) {
        plan.pool = through.front();
        plan.through.erase(plan.through.begin());
        plan.removed.push_back(plan.pool);
      }
    }
    lowered.insert(node.name);
    plans.push_back(std::move(plan));
  }
  // A DequantizeLinear goes when every node reading it became an int8 layer. Its QuantizeLinear
  // goes too when that DequantizeLinear was its only reader and no int8 layer writes its codes:
  // the layer then quantizes its fp32 input itself.
  std::set<std::string> written;
  for (const Int8LayerPlan& plan : plans) written.insert(plan.output);
  for (Int8LayerPlan& plan : plans) {
    const std::string& dequantize = model.node(plan.layer).inputs[0];
    bool all = dequantize != model.output_name();
    for (const Node* reader : readers.of(dequantize)) all = all && lowered.count(reader->name) > 0;
    if (!all) continue;
    plan.removed.insert(plan.removed.begin(), dequantize);
    if (readers.of(dequantize).size() == 1 && readers.only(plan.input) != nullptr &&
        !written.count(plan.input)) {
      plan.quantizes_input = true;
      plan.removed.insert(plan.removed.begin(), plan.input);
    }
  }
  return plans;
}

Model lower_to_int8(const Model& model) {
  const std::vector<Int8LayerPlan> plans = plan_int8_execution(model);
  std::map<std::string, const Int8LayerPlan*> by_layer;
  std::set<std::string> removed;
  std::map<std::string, std::string> alias;  // a dropped node -> the node that now gives its value
  for (const Int8LayerPlan& plan : plans) {
    by_layer[plan.layer] = &plan;
    for (const std::string& name : plan.removed) removed.insert(name);
    if (!plan.relu.empty()) alias[plan.relu] = plan.layer;
    if (!plan.pool.empty()) alias[plan.pool] = plan.layer;
    if (!plan.output.empty()) alias[plan.output] = plan.through.empty() ? plan.layer : plan.through.back();
  }
  const auto resolve = [&](std::string name) {
    for (auto it = alias.find(name); it != alias.end(); it = alias.find(name)) name = it->second;
    return name;
  };

  Model lowered;
  for (const ModelInput& input : model.inputs()) lowered.add_input(input.name, input.shape);
  for (const Node& node : model.nodes()) {
    if (removed.count(node.name)) continue;
    std::vector<std::string> inputs;
    for (const std::string& input : node.inputs) inputs.push_back(resolve(input));
    // A learned step becomes the fixed scale: the lowered copy never trains.
    const std::string type = node.op->type();
    std::unique_ptr<Op> op = make_op(
        type, type == "QuantizeLinear" || type == "DequantizeLinear" ? ops::inference_attributes(model, node)
                                                                     : node.op->attributes());
    if (const auto it = by_layer.find(node.name); it != by_layer.end()) {
      const Int8LayerPlan& plan = *it->second;
      kernels::Int8Epilogue epilogue;
      const Node& quantize = model.node(plan.input);
      epilogue.input = codes_of(model, quantize);
      epilogue.quantize_input = plan.quantizes_input;
      epilogue.relu = !plan.relu.empty();
      if (!plan.output.empty()) epilogue.output = codes_of(model, model.node(plan.output));
      std::unique_ptr<Op> pool;
      if (!plan.pool.empty()) {
        const Node& pooling = model.node(plan.pool);
        pool = make_op(pooling.op->type(), pooling.op->attributes());
      }
      op = ops::make_int8_layer(std::move(op), epilogue, std::move(pool));
      inputs = {resolve(plan.quantizes_input ? quantize.inputs[0] : plan.input)};
    }
    lowered.add_node(node.name, std::move(op), std::move(inputs));
  }
  lowered.set_output(resolve(model.output_name()));
  for (const Parameter* p : model.parameters()) {
    Parameter* target_pointer = lowered.find_parameter(p->name);
    if (target_pointer == nullptr) continue;  // a learned step: now the scale attribute
    Parameter& target = *target_pointer;
    target = *p;
    target.grad = Tensor();
  }
  lowered.metadata = model.metadata;
  return lowered;
}

std::optional<Model> int8_inference_model(const Model& model) {
  if (!int8_execution_enabled() || plan_int8_execution(model).empty()) return std::nullopt;
  return lower_to_int8(model);
}

std::string int8_kernel_isa() { return kernels::onednn_isa(); }

bool int8_kernels_have_vnni() { return kernels::onednn_has_vnni(); }

}  // namespace shrink
