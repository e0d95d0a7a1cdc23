#include "compress/batch_norm_folding.hpp"

#include "shrink/core/error.hpp"

#include <cmath>
#include <map>

namespace shrink {
namespace {

using Json = nlohmann::json;

struct Fold {
  std::string layer;
  std::string norm;
};

// How many nodes read each value (the model output counts as one more reader).
std::map<std::string, int> readers(const Model& model) {
  std::map<std::string, int> count;
  for (const Node& node : model.nodes())
    for (const std::string& input : node.inputs) ++count[input];
  ++count[model.output_name()];
  return count;
}

bool foldable(const Model& model, const Node& norm, const std::map<std::string, int>& read) {
  if (norm.inputs.size() != 1 || model.is_input(norm.inputs[0])) return false;
  const Node& layer = model.node(norm.inputs[0]);
  const std::string type = layer.op->type();
  const bool pair = (norm.op->type() == "BatchNorm2d" && type == "Conv2d") ||
                    (norm.op->type() == "BatchNorm1d" && type == "Linear" &&
                     layer.output_shape.size() == 1);
  if (!pair || read.at(layer.name) != 1) return false;
  const Parameter& weight = model.parameter(layer.parameters.at(0));
  return !weight.quantized() && !weight.has_mask();
}

}  // namespace

std::vector<std::string> fold_batch_norms(Model& model) {
  const std::map<std::string, int> read = readers(model);
  std::vector<Fold> folds;
  for (const Node& node : model.nodes())
    if (foldable(model, node, read)) folds.push_back({node.inputs[0], node.name});
  if (folds.empty()) return {};

  Json graph = model.graph_json();
  Json kept = Json::array();
  std::map<std::string, std::string> replaced;  // BatchNorm node -> the layer it folded into
  for (const Fold& fold : folds) replaced[fold.norm] = fold.layer;
  for (Json& node : graph["nodes"]) {
    if (replaced.count(node["name"].get<std::string>())) continue;
    for (Json& input : node["inputs"])
      if (auto it = replaced.find(input.get<std::string>()); it != replaced.end()) input = it->second;
    for (const Fold& fold : folds)
      if (node["name"] == fold.layer) node["attributes"]["bias"] = true;
    kept.push_back(node);
  }
  graph["nodes"] = kept;
  if (auto it = replaced.find(graph["output"].get<std::string>()); it != replaced.end())
    graph["output"] = it->second;

  Model rebuilt = Model::from_graph_json(graph);
  for (const Parameter* p : model.parameters()) {
    Parameter* target = rebuilt.find_parameter(p->name);
    if (target == nullptr) continue;  // the folded BatchNorms' own
    *target = *p;
    target->grad = Tensor();
  }
  for (const Fold& fold : folds) {
    const Node& norm = model.node(fold.norm);
    const double eps = norm.op->attributes().value("eps", 1e-5);
    const Tensor& gamma = model.parameter(norm.parameters.at(0)).value;
    const Tensor& beta = model.parameter(norm.parameters.at(1)).value;
    const Tensor& mean = model.parameter(norm.parameters.at(2)).value;
    const Tensor& var = model.parameter(norm.parameters.at(3)).value;
    const Node& layer = model.node(fold.layer);
    const Parameter* old_bias =
        layer.parameters.size() > 1 ? &model.parameter(layer.parameters[1]) : nullptr;
    const Node& folded = rebuilt.node(fold.layer);
    Parameter& weight = rebuilt.parameter(folded.parameters.at(0));
    Parameter& bias = rebuilt.parameter(folded.parameters.at(1));
    const int64_t channels = gamma.numel();
    const int64_t per_channel = weight.value.numel() / channels;
    for (int64_t c = 0; c < channels; ++c) {
      const double s = gamma[c] / std::sqrt(static_cast<double>(var[c]) + eps);
      for (int64_t i = 0; i < per_channel; ++i) {
        float& w = weight.value[c * per_channel + i];
        w = static_cast<float>(w * s);
      }
      const double b = old_bias != nullptr ? old_bias->value[c] : 0.0;
      bias.value[c] = static_cast<float>((b - mean[c]) * s + beta[c]);
    }
    weight.mark_changed();
  }
  rebuilt.metadata = model.metadata;
  model = std::move(rebuilt);
  std::vector<std::string> names;
  for (const Fold& fold : folds) names.push_back(fold.norm);
  return names;
}

}  // namespace shrink
