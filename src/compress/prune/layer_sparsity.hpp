#pragma once
// Per-layer sparsities for an unstructured pruning pass, given directly
// ("layer_sparsity": {"fc1": 0.95, "fc3": 0.5}) or chosen from a `shrink sensitivity` report
// ("sparsity_from": "sensitivity.json", "max_loss": 0.005): each layer of the report gets the
// highest of its sparsities whose accuracy fell by at most max_loss (0 if none did). Entries
// given directly override the report's.
#include "../../core/json_options.hpp"  // relative, so tests reach this private header by path
#include "shrink/nn/parameter.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace shrink {

// From a sensitivity report (Sensitivity::to_json): {weight name: chosen sparsity}.
std::map<std::string, double> sparsities_from_sensitivity(const nlohmann::json& report,
                                                          double max_loss);

struct LayerSparsities {
  // Node ("fc1") or weight ("fc1.weight") -> sparsity: chosen from the report, and given.
  std::map<std::string, double> from_report;
  std::map<std::string, double> given;
  std::string from;  // the report, if any
  double max_loss = 0.005;

  // Reads "layer_sparsity", "sparsity_from" and "max_loss" (reading the report now, so a bad
  // file fails before any work); `what` names the pass in errors.
  static LayerSparsities read(JsonOptions& options, const std::string& what);
  bool empty() const { return from_report.empty() && given.empty(); }
  nlohmann::json to_json() const;
  // Each weight's sparsity: its entry, else `fallback`. An entry that names none of the weights
  // is a bad-input Error listing them.
  std::vector<double> for_weights(const std::vector<Parameter*>& weights, double fallback,
                                  const std::string& what) const;
};

}  // namespace shrink
