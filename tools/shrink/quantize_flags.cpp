// --quantize and its companion flags, shared by `compress` and `train`: they become one
// quant.<format> pass entry of the recipe.
#include "command.hpp"

#include "shrink/core/error.hpp"
#include "shrink/core/method_spec.hpp"
#include "shrink/nn/quantizer.hpp"

#include <algorithm>

namespace shrink::cli {

void add_quantize_options(CLI::App& command, QuantizeFlags& flags) {
  command.add_option("--quantize", flags.spec,
                     "Quantize the weights: FORMAT[:BITS,KEY=VALUE...], e.g. affine:8, "
                     "affine:4,range=mse, pow2:5, binary, ternary:ttq (formats: " +
                         quantizer_format_names() +
                         "; see docs/quantization.md)");
  command.add_flag("--per-channel", flags.per_channel,
                   "--quantize: one scale per output channel instead of per tensor");
  command.add_flag("--symmetric", flags.symmetric,
                   "--quantize affine: signed codes around zero (no zero point)");
  command.add_option("--quantize-exclude", flags.exclude,
                     "--quantize: leave this layer in fp32 (repeatable; a node or parameter name)");
  command.add_option("--layer-bits", flags.layer_bits,
                     "--quantize: NAME=BITS gives one layer its own bit width (repeatable)");
}

nlohmann::json quantize_pass(const QuantizeFlags& flags) {
  if (flags.spec.empty()) {
    require(!flags.per_channel && !flags.symmetric && flags.exclude.empty() &&
                flags.layer_bits.empty(),
            "--per-channel, --symmetric, --quantize-exclude and --layer-bits need --quantize");
    return nullptr;
  }
  const MethodSpec spec = parse_method_spec("--quantize", flags.spec);
  require(find_quantizer_format(spec.method) != nullptr,
          "--quantize " + flags.spec + ": unknown format '" + spec.method +
              "'; known formats: " + quantizer_format_names());
  nlohmann::json pass = spec.options;
  pass["pass"] = "quant." + spec.method;
  if (!spec.value.is_null()) {
    // A word names the format's variant (ternary:ttq, binary:none); a number is the bit width.
    const char* variant = spec.method == "ternary" ? "method" : spec.method == "binary" ? "scale" : nullptr;
    if (variant != nullptr && spec.value.is_string()) {
      pass[variant] = spec.value;
    } else {
      require(spec.value.is_number_integer(),
              "--quantize " + flags.spec + ": give the bit width as an integer, e.g. " +
                  spec.method + ":4");
      pass["bits"] = spec.value;
    }
  }
  if (flags.per_channel) pass["per_channel"] = true;
  if (flags.symmetric) pass["symmetric"] = true;
  if (!flags.exclude.empty()) pass["exclude"] = flags.exclude;
  for (const std::string& entry : flags.layer_bits) {
    const size_t eq = entry.find('=');
    const std::string layer = eq == std::string::npos ? "" : entry.substr(0, eq);
    const std::string bits = eq == std::string::npos ? "" : entry.substr(eq + 1);
    require(!layer.empty() && !bits.empty() && bits.size() <= 2 &&
                std::all_of(bits.begin(), bits.end(), [](char c) { return c >= '0' && c <= '9'; }),
            "--layer-bits " + entry + ": write it as LAYER=BITS, e.g. conv1=8");
    pass["layer_bits"][layer] = std::stoi(bits);
  }
  return pass;
}

}  // namespace shrink::cli
