#pragma once
// Who reads each value of a model's graph, for the inference lowerings (fused fp32, int8) that
// grow a chain of nodes only through values nothing else reads.
#include "shrink/nn/model.hpp"

#include <map>
#include <string>
#include <vector>

namespace shrink {

class GraphReaders {
 public:
  explicit GraphReaders(const Model& model) : output_(model.output_name()) {
    for (const Node& node : model.nodes())
      for (const std::string& input : node.inputs) readers_[input].push_back(&node);
  }

  // Every node that reads `value` (none: empty).
  const std::vector<const Node*>& of(const std::string& value) const {
    static const std::vector<const Node*> kNone;
    const auto it = readers_.find(value);
    return it == readers_.end() ? kNone : it->second;
  }

  // The one node reading `value`, or null when several or none do or it is the model's output.
  const Node* only(const std::string& value) const {
    const std::vector<const Node*>& readers = of(value);
    return value == output_ || readers.size() != 1 ? nullptr : readers[0];
  }

 private:
  std::string output_;
  std::map<std::string, std::vector<const Node*>> readers_;
};

}  // namespace shrink
