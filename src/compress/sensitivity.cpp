#include "shrink/compress/sensitivity.hpp"

#include "shrink/core/error.hpp"
#include "shrink/nn/weights.hpp"
#include "shrink/train/evaluator.hpp"

namespace shrink {
namespace {

// The pass that prunes `weight` alone to `sparsity`: every other compressible weight excluded.
std::unique_ptr<Pass> prune_only(const std::vector<std::string>& weights, const std::string& weight,
                                 double sparsity, const SensitivityOptions& options) {
  nlohmann::json pass = options.criterion_options.is_null() ? nlohmann::json::object()
                                                            : options.criterion_options;
  std::vector<std::string> others;
  for (const auto& name : weights)
    if (name != weight) others.push_back(name);
  pass["sparsity"] = sparsity;
  pass["scope"] = "layer";
  pass["exclude"] = others;
  return make_pass("prune." + options.criterion, pass);
}

double zero_fraction(const Parameter& p) {
  int64_t zeros = 0;
  for (float v : p.effective()) zeros += v == 0.0f;
  return p.value.numel() > 0 ? static_cast<double>(zeros) / static_cast<double>(p.value.numel()) : 0.0;
}

}  // namespace

nlohmann::json Sensitivity::to_json() const {
  nlohmann::json list = nlohmann::json::array();
  for (const LayerSensitivity& layer : layers) {
    std::vector<double> change;
    for (double a : layer.accuracy) change.push_back(a - accuracy);
    list.push_back({{"weight", layer.weight},
                    {"size", layer.size},
                    {"sparsity_before", layer.sparsity_before},
                    {"accuracy", layer.accuracy},
                    {"loss", layer.loss},
                    {"accuracy_change", change}});
  }
  return {{"criterion", criterion}, {"sparsities", sparsities}, {"accuracy", accuracy},
          {"loss", loss},           {"samples", samples},       {"layers", list}};
}

Sensitivity layer_sensitivity(const Model& model, const Dataset& data, const PassContext& context,
                              const SensitivityOptions& options) {
  require(!options.sparsities.empty(), "sensitivity analysis needs at least one sparsity");
  for (double s : options.sparsities)
    require(s >= 0.0 && s < 1.0, "each sparsity must be in [0, 1), got " + message_number(s));
  require(options.batch_size > 0, "the batch size must be positive");
  std::vector<std::string> names;
  for (const Parameter* p : compressible_weights(model)) names.push_back(p->name);
  require(!names.empty(), "the model has no Linear or Conv2d weights to prune");
  // Built once up front, so a bad criterion or option fails before any evaluation.
  prune_only(names, names.front(), options.sparsities.front(), options);

  Sensitivity result;
  result.criterion = "prune." + options.criterion;
  result.sparsities = options.sparsities;
  Model base = model.clone();
  const Evaluation dense = evaluate(base, data, options.batch_size);
  result.accuracy = dense.accuracy;
  result.loss = dense.loss;
  result.samples = dense.samples;
  for (const std::string& name : names) {
    LayerSensitivity layer;
    layer.weight = name;
    layer.size = base.parameter(name).value.numel();
    layer.sparsity_before = zero_fraction(base.parameter(name));
    for (double sparsity : options.sparsities) {
      Model pruned = model.clone();
      PassContext local = context;
      local.sections = nlohmann::json::array();
      prune_only(names, name, sparsity, options)->run(pruned, local);
      const Evaluation e = evaluate(pruned, data, options.batch_size);
      layer.accuracy.push_back(e.accuracy);
      layer.loss.push_back(e.loss);
    }
    result.layers.push_back(std::move(layer));
  }
  return result;
}

}  // namespace shrink
