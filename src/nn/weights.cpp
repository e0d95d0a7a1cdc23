#include "shrink/nn/weights.hpp"

#include "shrink/core/error.hpp"

#include <algorithm>
#include <cmath>

namespace shrink {
namespace {

bool has_compressible_weight(const Node& node) {
  const std::string type = node.op->type();
  return type == "Linear" || type == "Conv2d" || type == "MatMul" || type == "ConvTranspose2d";
}

template <class ModelT, class ParameterT>
std::vector<ParameterT*> collect(ModelT& model) {
  std::vector<ParameterT*> weights;
  for (const Node& node : model.nodes()) {
    if (!has_compressible_weight(node)) continue;
    for (const auto& name : node.parameters)
      if (name == node.name + ".weight") weights.push_back(&model.parameter(name));
  }
  return weights;
}

}  // namespace

std::vector<Parameter*> compressible_weights(Model& model) {
  return collect<Model, Parameter>(model);
}

std::vector<const Parameter*> compressible_weights(const Model& model) {
  return collect<const Model, const Parameter>(model);
}

std::vector<Parameter*> compressible_weights(Model& model, const std::vector<std::string>& exclude) {
  std::vector<Parameter*> all = compressible_weights(model);
  auto excluded = [&](const Parameter* p, const std::string& name) {
    return p->name == name || p->name == name + ".weight";
  };
  for (const std::string& name : exclude) {
    if (std::any_of(all.begin(), all.end(), [&](const Parameter* p) { return excluded(p, name); }))
      continue;
    std::string known;
    for (const Parameter* p : all) known += (known.empty() ? "" : ", ") + p->name;
    throw Error::bad_input("cannot exclude '" + name + "': it is not a compressible layer; the "
                           "compressible weights are " + known);
  }
  std::vector<Parameter*> kept;
  for (Parameter* p : all)
    if (std::none_of(exclude.begin(), exclude.end(),
                     [&](const std::string& name) { return excluded(p, name); }))
      kept.push_back(p);
  return kept;
}

SparsityStats weight_sparsity(const Model& model) {
  SparsityStats stats;
  for (const Parameter* p : compressible_weights(model)) {
    stats.weights += p->value.numel();
    stats.zeros += p->value.numel() - p->nonzeros();
  }
  return stats;
}

std::vector<const Parameter*> unmasked_sparse_weights(const Model& model,
                                                      double min_zero_fraction) {
  std::vector<const Parameter*> found;
  for (const Parameter* p : compressible_weights(model)) {
    const int64_t n = p->value.numel();
    if (p->has_mask() || n == 0) continue;
    if (static_cast<double>(n - p->nonzeros()) >= min_zero_fraction * static_cast<double>(n))
      found.push_back(p);
  }
  return found;
}

std::vector<std::string> masks_from_zeros(Model& model, double min_zero_fraction) {
  std::vector<std::string> names;
  for (const Parameter* found : unmasked_sparse_weights(model, min_zero_fraction)) {
    Parameter& p = model.parameter(found->name);
    p.mask = Tensor(p.value.shape());
    for (int64_t i = 0; i < p.value.numel(); ++i) p.mask[i] = p.value[i] != 0.0f ? 1.0f : 0.0f;
    names.push_back(p.name);
  }
  return names;
}

int64_t effective_macs(const Model& model, const Node& node) {
  const int64_t dense = node.op->macs(model.input_shapes(node, 1));
  const Parameter* weight =
      has_compressible_weight(node) ? model.find_parameter(node.name + ".weight") : nullptr;
  if (!weight || weight->value.numel() == 0) return dense;
  const double density = static_cast<double>(weight->nonzeros()) / weight->value.numel();
  return static_cast<int64_t>(std::llround(dense * density));
}

int64_t effective_macs(const Model& model) {
  int64_t total = 0;
  for (const Node& node : model.nodes()) total += effective_macs(model, node);
  return total;
}

}  // namespace shrink
