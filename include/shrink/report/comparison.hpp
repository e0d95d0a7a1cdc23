#pragma once
// A model beside its compressed version, layer by layer: output channels, parameters and MACs
// before -> after, so a report shows where structured pruning took its savings.
#include "shrink/nn/model.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace shrink {

struct LayerChange {
  std::string name;
  std::string type;
  int64_t channels_before = 0, channels_after = 0;      // of its output (axis 1)
  int64_t parameters_before = 0, parameters_after = 0;  // trainable elements
  int64_t macs_before = 0, macs_after = 0;              // dense, one sample
};

struct ModelComparison {
  std::vector<LayerChange> layers;  // the nodes with parameters or MACs, in graph order
  int64_t parameters_before = 0, parameters_after = 0;
  int64_t macs_before = 0, macs_after = 0;
  bool shapes_changed() const;  // some layer's channels or parameter count differ

  nlohmann::json to_json() const;  // {"layers": [...], "parameters_before", ...}
  std::string to_table() const;    // one line per layer: channels, parameters, MACs before -> after
};

// Nodes are matched by name; a node missing from one side counts zero there.
ModelComparison compare_models(const Model& before, const Model& after);

}  // namespace shrink
