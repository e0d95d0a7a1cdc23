#pragma once
// Inserting parameter-free nodes into a model's graph: in front of a node (on its first input),
// behind it (its consumers, and the model output if it is one, read the new node instead), or in
// its place (a parameter-free node swapped for another op on the same inputs).
// The model is rebuilt from its graph description and every parameter carries over by name
// with its value, mask, quantizer and trainable flag.
#include "shrink/nn/model.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace shrink {

struct NodeInsertion {
  enum class Where { Before, After, Replace };
  Where where;
  std::string anchor;  // the node the new one goes in front of, behind or in place of
  std::string name;    // the new node's name (must be unused)
  std::string type;    // op type
  nlohmann::json attributes = nlohmann::json::object();
};

void insert_nodes(Model& model, const std::vector<NodeInsertion>& insertions);

}  // namespace shrink
