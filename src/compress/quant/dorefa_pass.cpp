// quant.dorefa: DoReFa-Net (Zhou et al. 2016) — k-bit weights ("bits", the dorefa format), and
// optionally k-bit activations and gradients so that training itself runs at low bit width:
//   "activation_bits": a DoReFaQuantize (clip to [0, 1], round to 2^k levels, straight-through)
//       in front of every quantized layer but the network's first, whose input is the data;
//   "gradient_bits": a GradientQuantize behind every quantized layer, which rounds the gradient
//       of the layer's output stochastically to 2^k levels before it flows back.
// 0 (the default) leaves activations or gradients in float. The pass is meant for training from
// scratch: `shrink train --quantize dorefa:2,activation_bits=2,gradient_bits=6`.
#include "compress/graph_rewrite.hpp"
#include "compress/passes.hpp"
#include "compress/quant/quantize_pass.hpp"
#include "shrink/nn/weights.hpp"

namespace shrink {
namespace {

constexpr int kMaxBits = 16;

class DoReFaPass final : public QuantizePass {
 public:
  explicit DoReFaPass(const nlohmann::json& json)
      : QuantizePass(QuantizePassTraits{"dorefa", true, false}, json,
                     {"activation_bits", "gradient_bits"}) {
    PassOptions options(name(), raw_options());
    activation_bits_ = options.get<int>("activation_bits", 0);
    gradient_bits_ = options.get<int>("gradient_bits", 0);
    for (const auto& [key, bits] : {std::pair{"activation_bits", activation_bits_},
                                    std::pair{"gradient_bits", gradient_bits_}})
      require(bits >= 0 && bits <= kMaxBits, "pass quant.dorefa: " + std::string(key) +
                                                 " must be 0 (float) or 1..16, got " +
                                                 std::to_string(bits));
  }

 private:
  nlohmann::json apply(Model& model, PassContext&) override {
    const std::vector<Layer> layers = plan(model);
    nlohmann::json report = quantize(layers);
    const std::vector<Parameter*> all = compressible_weights(model);
    std::vector<NodeInsertion> insertions;
    for (const Layer& layer : layers) {
      if (layer.format != "dorefa") continue;
      const std::string node = layer.weight->name.substr(0, layer.weight->name.rfind('.'));
      if (activation_bits_ > 0 && layer.weight != all.front())
        insertions.push_back({NodeInsertion::Where::Before, node, node + "_act_quant",
                              "DoReFaQuantize", {{"bits", activation_bits_}}});
      if (gradient_bits_ > 0)
        insertions.push_back({NodeInsertion::Where::After, node, node + "_grad_quant",
                              "GradientQuantize", {{"bits", gradient_bits_}}});
    }
    insert_nodes(model, insertions);
    report["activation_bits"] = activation_bits_;
    report["gradient_bits"] = gradient_bits_;
    return report;
  }

  int activation_bits_ = 0;
  int gradient_bits_ = 0;
};

}  // namespace

std::unique_ptr<Pass> make_dorefa_pass(const nlohmann::json& options) {
  return std::make_unique<DoReFaPass>(options);
}

}  // namespace shrink
