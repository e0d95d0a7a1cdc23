#include "shrink/nn/fused_execution.hpp"

#include "core/environment.hpp"
#include "nn/graph_readers.hpp"
#include "nn/kernels/onednn_convolution.hpp"
#include "nn/ops/fused_ops.hpp"
#include "shrink/core/error.hpp"
#include "shrink/nn/int8_execution.hpp"

#include <algorithm>
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

// Whether `model` has a convolution the lowering moves onto oneDNN, chain or not.
bool has_onednn_convolution(const Model& model) {
  if (!kernels::onednn_convolutions_enabled()) return false;
  return std::any_of(model.nodes().begin(), model.nodes().end(),
                     [](const Node& node) { return node.op->type() == "Conv2d"; });
}

// Whether `node` reads and writes channels-last tensors in its channels-last form: a
// MaxPool2d, or a Concat along the channels of 4-D values.
bool passes_channels_last(const Model& model, const Node& node) {
  const std::string type = node.op->type();
  if (type == "MaxPool2d") return true;
  if (type != "Concat") return false;
  const int64_t axis = node.op->attributes().value("axis", int64_t{1});
  return model.input_shapes(node)[0].size() == 4 && (axis == 1 || axis == -3);
}

// Keeps channels-last (NHWC under the NCHW shape) every value that oneDNN convolutions or ops
// with a channels-last form write and only such ops read, so consecutive convolutions pass
// their activations on without transposing them: the largest set where a pooling or Concat
// inside it reads only values inside it, found by dropping values until none breaks the rule.
// The model's output stays NCHW.
void keep_channels_last(Model& lowered) {
  // A convolution whose weight runs sparse reads and writes NCHW (its kernels' layout), so it
  // counts as any other op here; it still takes channels-last tensors should its weight change.
  std::set<std::string> dense;  // the convolutions that run on oneDNN
  for (const Node& node : lowered.nodes())
    if (ops::runs_on_onednn(*node.op) &&
        !ops::conv_runs_sparse(*node.op, lowered.parameter(node.parameters.at(0))))
      dense.insert(node.name);
  const auto onednn = [&](const Node& node) { return dense.count(node.name) > 0; };
  std::set<std::string> inside;
  {
    const GraphReaders readers(lowered);
    std::map<std::string, const Node*> nodes;
    for (const Node& node : lowered.nodes()) {
      nodes[node.name] = &node;
      if ((onednn(node) || passes_channels_last(lowered, node)) &&
          node.name != lowered.output_name())
        inside.insert(node.name);
    }
    const auto reads_channels_last = [&](const Node& reader) {
      return onednn(reader) || reader.op->type() == "GlobalAvgPool" ||
             inside.count(reader.name) > 0;
    };
    for (bool changed = true; changed;) {
      changed = false;
      for (auto it = inside.begin(); it != inside.end();) {
        const Node& node = *nodes.at(*it);
        const std::vector<const Node*>& of = readers.of(node.name);
        const bool inputs_inside =
            onednn(node) ||
            std::all_of(node.inputs.begin(), node.inputs.end(),
                        [&](const std::string& input) { return inside.count(input) > 0; });
        if (inputs_inside && !of.empty() &&
            std::all_of(of.begin(), of.end(), [&](const Node* r) { return reads_channels_last(*r); })) {
          ++it;
        } else {
          it = inside.erase(it);
          changed = true;
        }
      }
    }
  }
  for (Node& node : lowered.nodes()) {
    if (ops::runs_on_onednn(*node.op)) {
      ops::ActivationLayouts layouts;
      layouts.input_channels_last = inside.count(node.inputs[0]) > 0;
      layouts.residual_channels_last = node.inputs.size() > 1 && inside.count(node.inputs[1]) > 0;
      layouts.output_channels_last = inside.count(node.name) > 0;
      ops::set_activation_layouts(*node.op, layouts);
    } else if (inside.count(node.name) ||
               (node.op->type() == "GlobalAvgPool" && inside.count(node.inputs[0]))) {
      node.op = ops::make_channels_last(*node.op);
    }
  }
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
      // A convolution alone is a fused one with an empty epilogue, so it runs on oneDNN too.
      const bool onednn = node.op->type() == "Conv2d" && kernels::onednn_convolutions_enabled();
      lowered.add_node(node.name,
                       onednn ? ops::make_fused_conv2d(node.op->attributes(), ops::LayerEpilogue{})
                              : make_op(node.op->type(), node.op->attributes()),
                       std::move(inputs));
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
  keep_channels_last(lowered);
  return lowered;
}

bool slicing_enabled() {
  static const bool enabled = auto_or_off("SHRINK_SLICES", "a slicing");
  return enabled;
}

int64_t inference_slice(const Model& model) {
  constexpr int64_t kSliceBytes = 512 * 1024;
  bool onednn = false;
  int64_t largest = 1;  // floats per sample
  for (const Node& node : model.nodes()) {
    // An op acting along axis 0 (an imported graph's across_batch) mixes the samples: whole.
    if (node.op->attributes().value("across_batch", false)) return 0;
    onednn = onednn || ops::runs_on_onednn(*node.op);
    largest = std::max(largest, element_count(node.output_shape));
  }
  if (!onednn) return 0;
  return std::max<int64_t>(1, kSliceBytes / (largest * static_cast<int64_t>(sizeof(float))));
}

const Tensor& forward_in_slices(Model& model, const std::vector<const Tensor*>& inputs,
                                Tensor& assembled) {
  const int64_t slice = slicing_enabled() ? inference_slice(model) : 0;
  const int64_t batch = inputs.empty() || inputs[0]->rank() == 0 ? 0 : inputs[0]->dim(0);
  if (slice == 0 || batch <= slice) return model.forward(inputs, false);
  for (const Tensor* input : inputs)
    if (input->rank() == 0 || input->dim(0) != batch) return model.forward(inputs, false);  // its error
  std::vector<Tensor> parts(inputs.size());
  std::vector<const Tensor*> pointers;
  for (const Tensor& part : parts) pointers.push_back(&part);
  for (int64_t first = 0; first < batch; first += slice) {
    const int64_t count = std::min(slice, batch - first);
    for (size_t k = 0; k < inputs.size(); ++k) {
      Shape shape = inputs[k]->shape();
      shape[0] = count;
      parts[k].resize(shape);
      const int64_t row = inputs[k]->numel() / batch;
      std::copy(inputs[k]->data() + first * row, inputs[k]->data() + (first + count) * row,
                parts[k].data());
    }
    const Tensor& y = model.forward(pointers, false);
    const int64_t row = y.numel() / count;
    if (first == 0) {
      Shape shape = y.shape();
      shape[0] = batch;
      assembled.resize(shape);
    }
    std::copy(y.data(), y.data() + y.numel(), assembled.data() + first * row);
  }
  return assembled;
}

std::optional<Model> inference_model(const Model& model) {
  const bool fuse = fusion_enabled();  // a bad SHRINK_FUSE is an error whatever the model
  if (std::optional<Model> int8 = int8_inference_model(model)) return int8;
  if (!fuse || (plan_fusion(model).empty() && !has_onednn_convolution(model))) return std::nullopt;
  return lower_to_fused(model);
}

}  // namespace shrink
