#pragma once
// What every quant.<format> pass shares: which weights it quantizes (the compressible weights
// minus "exclude"), the bits of each ("bits", "layer_bits", and "keep_first_last" for the
// formats whose first and last layers usually stay at 8 bits), building and attaching each
// weight's quantizer, and the per-layer report (format, bits, relative error).
#include "compress/pass_options.hpp"
#include "shrink/compress/pass.hpp"

#include <map>
#include <string>
#include <vector>

namespace shrink {

struct QuantizePassTraits {
  const char* format;            // the weight format's row name: "affine"
  bool has_bits;                 // the format takes a "bits" option
  bool keep_first_last_default;  // binary and ternary: the first and last layer at 8 bits
};

class QuantizePass : public Pass {
 public:
  // Reads the pass-level options and checks that the rest are options the format takes.
  // `pass_options` lists the keys a subclass reads itself (INQ's portions), which the format
  // does not see.
  QuantizePass(const QuantizePassTraits& traits, const nlohmann::json& options,
               const std::vector<std::string>& pass_options = {});

  std::string name() const override { return std::string("quant.") + traits_.format; }
  nlohmann::json options() const override { return options_; }

 protected:
  struct Layer {
    Parameter* weight;
    std::string format;           // traits.format, or "affine" for a layer given other bits
    nlohmann::json options;       // for the format's make()
  };
  // The weights this pass quantizes and how, in model order.
  std::vector<Layer> plan(Model& model) const;
  // Attaches each layer's quantizer; returns {"layers": {name: {format, bits, relative_mse}}}.
  nlohmann::json quantize(const std::vector<Layer>& layers) const;
  const nlohmann::json& raw_options() const { return options_; }

 private:
  nlohmann::json apply(Model& model, PassContext& context) override;

  QuantizePassTraits traits_;
  nlohmann::json options_;         // as given, for options() and recipes
  nlohmann::json format_options_;  // what the format's make() sees
  std::vector<std::string> exclude_;
  std::map<std::string, int> layer_bits_;  // by node or parameter name
  bool keep_first_last_ = false;
};

}  // namespace shrink
