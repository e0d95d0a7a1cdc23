#include "compress/graph_rewrite.hpp"

#include "shrink/core/error.hpp"

#include <algorithm>

namespace shrink {
namespace {

using Json = nlohmann::json;

size_t position_of(const Json& nodes, const std::string& name) {
  for (size_t i = 0; i < nodes.size(); ++i)
    if (nodes[i]["name"] == name) return i;
  throw Error::internal("graph rewrite: no node named '" + name + "'");
}

}  // namespace

void insert_nodes(Model& model, const std::vector<NodeInsertion>& insertions) {
  if (insertions.empty()) return;
  Json graph = model.graph_json();
  Json& nodes = graph["nodes"];
  for (const NodeInsertion& insertion : insertions) {
    require(model.find_node(insertion.name) == nullptr &&
                std::none_of(nodes.begin(), nodes.end(),
                             [&](const Json& n) { return n["name"] == insertion.name; }),
            "cannot add node '" + insertion.name + "': the model already has a node of that name");
    const size_t at = position_of(nodes, insertion.anchor);
    Json node = {{"name", insertion.name}, {"type", insertion.type},
                 {"attributes", insertion.attributes}};
    if (insertion.where == NodeInsertion::Where::Before) {
      node["inputs"] = {nodes[at]["inputs"][0]};
      nodes[at]["inputs"][0] = insertion.name;
      nodes.insert(nodes.begin() + static_cast<std::ptrdiff_t>(at), node);
    } else {
      const bool replace = insertion.where == NodeInsertion::Where::Replace;
      require(!replace || model.node(insertion.anchor).parameters.empty(),
              "cannot replace node '" + insertion.anchor + "': it has parameters");
      node["inputs"] = replace ? nodes[at]["inputs"] : Json::array({insertion.anchor});
      for (Json& other : nodes)
        for (Json& input : other["inputs"])
          if (input == insertion.anchor) input = insertion.name;
      if (graph["output"] == insertion.anchor) graph["output"] = insertion.name;
      if (replace) nodes[at] = node;
      else nodes.insert(nodes.begin() + static_cast<std::ptrdiff_t>(at) + 1, node);
    }
  }
  Model rebuilt = Model::from_graph_json(graph);
  for (const Parameter* p : model.parameters()) {
    Parameter& target = rebuilt.parameter(p->name);
    target = *p;
    target.grad = Tensor();
  }
  rebuilt.metadata = model.metadata;
  model = std::move(rebuilt);
}

}  // namespace shrink
