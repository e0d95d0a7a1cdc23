#include "compress/quant/quantize_pass.hpp"

#include "shrink/nn/weights.hpp"

#include <algorithm>
#include <set>

namespace shrink {
namespace {

// Pass-level options, which the weight format never sees.
const char* const kPassKeys[] = {"exclude", "layer_bits", "keep_first_last"};

// A layer given bits its format does not have (a binary layer kept at 8 bits) becomes affine
// per-channel symmetric, the usual choice for the layers that stay wider.
nlohmann::json wider_layer_options(int bits) {
  return {{"bits", bits}, {"per_channel", true}, {"symmetric", true}};
}

bool names(const Parameter& p, const std::string& name) {
  return p.name == name || p.name == name + ".weight";
}

}  // namespace

QuantizePass::QuantizePass(const QuantizePassTraits& traits, const nlohmann::json& json,
                           const std::vector<std::string>& pass_options)
    : traits_(traits), options_(json.is_null() ? nlohmann::json::object() : json) {
  PassOptions options(name(), options_);
  exclude_ = options.get<std::vector<std::string>>("exclude", {});
  layer_bits_ = options.get<std::map<std::string, int>>("layer_bits", {});
  keep_first_last_ = options.get<bool>("keep_first_last", traits.keep_first_last_default);
  std::set<std::string> own(std::begin(kPassKeys), std::end(kPassKeys));
  own.insert(pass_options.begin(), pass_options.end());
  format_options_ = nlohmann::json::object();
  for (const auto& item : options_.items())
    if (!own.count(item.key())) format_options_[item.key()] = item.value();

  // Build each kind of layer once on a 1x1 weight, so a bad option fails before any work.
  const Tensor probe({1, 1});
  try {
    make_quantizer(traits.format, format_options_, probe);
    for (const auto& [layer, bits] : layer_bits_) {
      if (traits.has_bits) {
        nlohmann::json layer_options = format_options_;
        layer_options["bits"] = bits;
        make_quantizer(traits.format, layer_options, probe);
      } else {
        make_quantizer("affine", wider_layer_options(bits), probe);
      }
    }
  } catch (Error& e) {
    throw e.add_context("pass " + name());
  }
}

std::vector<QuantizePass::Layer> QuantizePass::plan(Model& model) const {
  const std::vector<Parameter*> all = compressible_weights(model);
  require(!all.empty(), "the model has no Linear, Conv2d or MatMul weights to quantize");
  for (const auto& entry : layer_bits_) {
    const std::string& layer = entry.first;
    require(std::any_of(all.begin(), all.end(), [&](const Parameter* p) { return names(*p, layer); }),
            "layer_bits names '" + layer + "', which is not a compressible layer; the "
            "compressible weights are " +
                [&] {
                  std::string known;
                  for (const Parameter* p : all) known += (known.empty() ? "" : ", ") + p->name;
                  return known;
                }());
  }
  std::vector<Layer> layers;
  for (Parameter* p : compressible_weights(model, exclude_)) {
    int bits = 0;  // 0: the format's own width
    for (const auto& [layer, layer_bits] : layer_bits_)
      if (names(*p, layer)) bits = layer_bits;
    if (bits == 0 && keep_first_last_ && (p == all.front() || p == all.back())) bits = 8;
    Layer layer{p, traits_.format, format_options_};
    if (bits != 0 && traits_.has_bits) {
      layer.options["bits"] = bits;
    } else if (bits != 0) {
      layer.format = "affine";
      layer.options = wider_layer_options(bits);
    }
    layers.push_back(std::move(layer));
  }
  return layers;
}

nlohmann::json QuantizePass::quantize(const std::vector<Layer>& layers) const {
  nlohmann::json report = nlohmann::json::object();
  for (const Layer& layer : layers) {
    Parameter& p = *layer.weight;
    try {
      p.set_quantizer(make_quantizer(layer.format, layer.options, p.value));
    } catch (Error& e) {
      throw e.add_context("parameter " + p.name);
    }
    report[p.name] = {{"format", layer.format},
                      {"bits", p.quantizer()->bits()},
                      {"options", p.quantizer()->options()},
                      {"relative_mse", relative_mse(p.value, p.effective())}};
  }
  return {{"layers", report}};
}

nlohmann::json QuantizePass::apply(Model& model, PassContext&) { return quantize(plan(model)); }

}  // namespace shrink
