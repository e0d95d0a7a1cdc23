#include "shrink/nn/fused_execution.hpp"

#include "core/environment.hpp"
#include "nn/graph_readers.hpp"
#include "nn/ops/fused_ops.hpp"
#include "shrink/core/error.hpp"
#include "shrink/nn/int8_execution.hpp"

#include <cmath>
#include <limits>
#include <map>
#include <set>

namespace shrink {
namespace {

using Json = nlohmann::json;

// The clamp of a ReLU or Clip node.
ops::LayerEpilogue clamp_of(const Node& node, ops::LayerEpilogue epilogue) {
  if (node.op->type() == "ReLU") {
    epilogue.lo = 0.0f;
  } else {
    const Json a = node.op->attributes();
    if (a.contains("min")) epilogue.lo = a["min"].get<float>();
    if (a.contains("max")) epilogue.hi = a["max"].get<float>();
  }
  return epilogue;
}

// Whether `add` sums exactly two values of one shape, one of them `chain`.
bool residual_add(const Model& model, const Node& add, const std::string& chain) {
  const std::string type = add.op->type();
  if ((type != "Add" && type != "BroadcastAdd") || add.inputs.size() != 2 ||
      add.inputs[0] == add.inputs[1])
    return false;
  const std::vector<Shape> shapes = model.input_shapes(add);
  return shapes[0] == shapes[1] && (add.inputs[0] == chain || add.inputs[1] == chain);
}

}  // namespace

bool fusion_enabled() {
  static const bool enabled = auto_or_off("SHRINK_FUSE", "a fusion");
  return enabled;
}

std::vector<FusedLayerPlan> plan_fusion(const Model& model) {
  const GraphReaders readers(model);

  std::vector<FusedLayerPlan> plans;
  std::set<std::string> claimed;  // an Add both of whose inputs end chains joins the first
  for (const Node& node : model.nodes()) {
    const std::string type = node.op->type();
    if (type != "Conv2d" && type != "Linear") continue;
    FusedLayerPlan plan;
    plan.layer = node.name;
    plan.type = type;
    std::string last = node.name;
    const std::string norm_type = type == "Conv2d" ? "BatchNorm2d" : "BatchNorm1d";
    const bool flat = type == "Conv2d" || node.output_shape.size() == 1;
    if (const Node* norm = readers.only(last); norm && flat && norm->op->type() == norm_type) {
      plan.batch_norm = last = norm->name;
      plan.removed.push_back(last);
    }
    if (const Node* add = readers.only(last);
        add && type == "Conv2d" && !claimed.count(add->name) && residual_add(model, *add, last)) {
      plan.add = add->name;
      plan.residual = add->inputs[0] == last ? add->inputs[1] : add->inputs[0];
      last = add->name;
      plan.removed.push_back(last);
    }
    if (const Node* clamp = readers.only(last);
        clamp && (clamp->op->type() == "ReLU" || clamp->op->type() == "Clip")) {
      plan.activation = last = clamp->name;
      plan.removed.push_back(last);
    }
    claimed.insert(plan.removed.begin(), plan.removed.end());
    if (!plan.removed.empty()) plans.push_back(std::move(plan));
  }
  return plans;
}

Model lower_to_fused(const Model& model) {
  const std::vector<FusedLayerPlan> plans = plan_fusion(model);
  std::map<std::string, const FusedLayerPlan*> by_layer, by_last;
  std::map<std::string, std::string> alias;  // a dropped node -> the fused op that gives its value
  for (const FusedLayerPlan& plan : plans) {
    by_layer[plan.layer] = &plan;
    by_last[plan.removed.back()] = &plan;
    for (const std::string& name : plan.removed) alias[name] = plan.layer;
  }
  const auto resolve = [&](const std::string& name) {
    const auto it = alias.find(name);
    return it == alias.end() ? name : it->second;
  };

  Model lowered;
  for (const ModelInput& input : model.inputs()) lowered.add_input(input.name, input.shape);
  for (const Node& node : model.nodes()) {
    if (by_layer.count(node.name)) continue;  // runs where its chain ends
    const auto it = by_last.find(node.name);
    if (it == by_last.end()) {
      if (alias.count(node.name)) continue;  // inside a chain
      std::vector<std::string> inputs;
      for (const std::string& input : node.inputs) inputs.push_back(resolve(input));
      lowered.add_node(node.name, make_op(node.op->type(), node.op->attributes()), std::move(inputs));
      continue;
    }
    // The chain's last node: the fused op takes its place, so the residual has run.
    const FusedLayerPlan& plan = *it->second;
    const Node& layer = model.node(plan.layer);
    ops::LayerEpilogue epilogue;
    epilogue.scale = !plan.batch_norm.empty();
    epilogue.residual = !plan.add.empty();
    if (!plan.activation.empty()) epilogue = clamp_of(model.node(plan.activation), epilogue);
    Json attributes = layer.op->attributes();
    if (epilogue.scale) attributes["bias"] = true;  // the BatchNorm's shift
    std::vector<std::string> inputs = {resolve(layer.inputs[0])};
    if (epilogue.residual) inputs.push_back(resolve(plan.residual));
    lowered.add_node(plan.layer,
                     plan.type == "Conv2d" ? ops::make_fused_conv2d(attributes, epilogue)
                                           : ops::make_fused_linear(attributes, epilogue),
                     std::move(inputs));
  }
  lowered.set_output(resolve(model.output_name()));
  for (const Parameter* p : model.parameters()) {
    Parameter* target = lowered.find_parameter(p->name);
    if (target == nullptr) continue;  // a folded BatchNorm's
    *target = *p;
    target->grad = Tensor();
  }
  // BatchNorm in inference: (acc + b - mean) * s + beta with s = gamma / sqrt(var + eps), so
  // the fused op scales the sums by s and adds the shift (b - mean) * s + beta.
  for (const FusedLayerPlan& plan : plans) {
    if (plan.batch_norm.empty()) continue;
    const Node& norm = model.node(plan.batch_norm);
    const double eps = norm.op->attributes().value("eps", 1e-5);
    const Tensor& gamma = model.parameter(norm.parameters.at(0)).value;
    const Tensor& beta = model.parameter(norm.parameters.at(1)).value;
    const Tensor& mean = model.parameter(norm.parameters.at(2)).value;
    const Tensor& var = model.parameter(norm.parameters.at(3)).value;
    const Node& layer = model.node(plan.layer);
    const Parameter* old_bias =
        layer.parameters.size() > 1 ? &model.parameter(layer.parameters[1]) : nullptr;
    Tensor& bias = lowered.parameter(plan.layer + ".bias").value;
    Tensor& scale = lowered.parameter(plan.layer + ".scale").value;
    for (int64_t c = 0; c < gamma.numel(); ++c) {
      const double s = gamma[c] / std::sqrt(static_cast<double>(var[c]) + eps);
      const double b = old_bias != nullptr ? old_bias->value[c] : 0.0;
      scale[c] = static_cast<float>(s);
      bias[c] = static_cast<float>((b - mean[c]) * s + beta[c]);
    }
  }
  lowered.metadata = model.metadata;
  return lowered;
}

std::optional<Model> inference_model(const Model& model) {
  const bool fuse = fusion_enabled();  // a bad SHRINK_FUSE is an error whatever the model
  if (std::optional<Model> int8 = int8_inference_model(model)) return int8;
  if (!fuse || plan_fusion(model).empty()) return std::nullopt;
  return lower_to_fused(model);
}

}  // namespace shrink
