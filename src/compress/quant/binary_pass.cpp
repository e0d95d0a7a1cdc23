// quant.binary: one-bit weights (XNOR-Net's alpha * sign(w) by default, BinaryConnect's +-1
// with scale "none"), the first and last layer kept at 8 bits unless keep_first_last is false,
// and optionally binary activations: "activations": true puts a Sign (sign with a clipped
// straight-through gradient) in front of every binarized layer but the network's first, a list
// of layer names in front of those; a ReLU feeding only that layer is replaced by the Sign. A Linear with binary weights whose input is a Sign's output
// runs the XNOR-popcount kernel at inference.
#include "compress/graph_rewrite.hpp"
#include "compress/passes.hpp"
#include "compress/quant/quantize_pass.hpp"
#include "shrink/nn/weights.hpp"

#include <algorithm>

namespace shrink {
namespace {

class BinaryPass final : public QuantizePass {
 public:
  explicit BinaryPass(const nlohmann::json& json)
      : QuantizePass(QuantizePassTraits{"binary", false, true}, json, {"activations"}) {
    const nlohmann::json activations = raw_options().value("activations", nlohmann::json(false));
    if (activations.is_boolean()) {
      all_activations_ = activations.get<bool>();
    } else {
      require(activations.is_array() &&
                  std::all_of(activations.begin(), activations.end(),
                              [](const nlohmann::json& a) { return a.is_string(); }),
              "pass quant.binary: option 'activations' must be true, false or a list of layer "
              "names, got " + activations.dump());
      activation_layers_ = activations.get<std::vector<std::string>>();
    }
  }

 private:
  nlohmann::json apply(Model& model, PassContext&) override {
    const std::vector<Layer> layers = plan(model);
    nlohmann::json report = quantize(layers);
    const std::vector<Parameter*> all = compressible_weights(model);
    std::vector<NodeInsertion> signs;
    for (const std::string& name : activation_layers_)
      require(std::any_of(layers.begin(), layers.end(),
                          [&](const Layer& l) { return node_of(*l.weight) == name && l.format == "binary"; }),
              "activations names '" + name + "', which is not a layer this pass binarizes");
    for (const Layer& layer : layers) {
      const std::string node = node_of(*layer.weight);
      const bool wanted = all_activations_ ? layer.weight != all.front()
                                           : std::count(activation_layers_.begin(),
                                                        activation_layers_.end(), node) > 0;
      if (!wanted || layer.format != "binary") continue;
      // Already binary (the pass ran before): one Sign is enough.
      const std::string input = model.node(node).inputs.at(0);
      const Node* producer = model.find_node(input);
      if (producer && producer->op->type() == "Sign") continue;
      // sign(relu(x)) would be +1 everywhere: as in XNOR-Net, the Sign is the layer's
      // activation, so a ReLU that feeds only this layer is replaced by it.
      const bool replace_relu = producer && producer->op->type() == "ReLU" && consumers(model, input) == 1;
      signs.push_back({replace_relu ? NodeInsertion::Where::Replace : NodeInsertion::Where::Before,
                       replace_relu ? input : node, node + "_sign", "Sign"});
      report["binary_activations"].push_back(node);
    }
    insert_nodes(model, signs);
    return report;
  }

  static int64_t consumers(const Model& model, const std::string& name) {
    int64_t count = model.output_name() == name;
    for (const Node& n : model.nodes()) count += std::count(n.inputs.begin(), n.inputs.end(), name);
    return count;
  }

  static std::string node_of(const Parameter& weight) {
    return weight.name.substr(0, weight.name.rfind('.'));
  }

  bool all_activations_ = false;
  std::vector<std::string> activation_layers_;
};

}  // namespace

std::unique_ptr<Pass> make_binary_pass(const nlohmann::json& options) {
  return std::make_unique<BinaryPass>(options);
}

}  // namespace shrink
