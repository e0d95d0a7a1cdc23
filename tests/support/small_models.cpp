#include "support/small_models.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace shrink::testing {

Model linear_relu_chain(const std::vector<int64_t>& widths, uint64_t seed) {
  nlohmann::json nodes = nlohmann::json::array();
  for (size_t i = 1; i < widths.size(); ++i) {
    if (i > 1) nodes.push_back({{"name", "relu" + std::to_string(i - 1)}, {"type", "ReLU"}});
    nodes.push_back({{"name", "fc" + std::to_string(i)},
                     {"type", "Linear"},
                     {"attributes", {{"out_features", widths[i]}}}});
  }
  Model model = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {widths.at(0)}}}}, {"nodes", nodes}});
  model.initialize(seed);
  return model;
}

}  // namespace shrink::testing
