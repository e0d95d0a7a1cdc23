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
                         "); or int8: weights and activations to 8-bit integers with calibrated "
                         "QuantizeLinear/DequantizeLinear (int8:reduce_range=on|off|auto: 7-bit "
                         "weights, fast without VNNI; auto: when this CPU lacks it; "
                         "int8:lsq=true: fine-tuning learns the scales, LSQ; see "
                         "docs/quantization.md)");
  command.add_flag("--per-channel", flags.per_channel,
                   "--quantize: one scale per output channel instead of per tensor");
  command.add_flag("--symmetric", flags.symmetric,
                   "--quantize affine: signed codes around zero (no zero point)");
  command.add_option("--quantize-exclude", flags.exclude,
                     "--quantize: leave this layer in fp32 (repeatable; a node or parameter name)");
  command.add_option("--layer-bits", flags.layer_bits,
                     "--quantize: NAME=BITS gives one layer its own bit width (repeatable)");
  command.add_option("--calibration", flags.calibration,
                     "--quantize int8: how activation ranges are chosen: minmax (default), "
                     "percentile:P (e.g. percentile:99.99), entropy (KL, TensorRT's), mse");
  command.add_option("--calibration-batches", flags.calibration_batches,
                     "--quantize int8: training batches (of 128 samples) to calibrate on (default 16)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  command.add_option("--skip", flags.skip,
                     "--quantize int8: keep this layer in fp32 (repeatable; a node name)");
}

namespace {

// --quantize int8[:KEY=VALUE...] and its companion flags: the quant.int8 pass.
nlohmann::json int8_pass(const QuantizeFlags& flags, const MethodSpec& spec) {
  require(spec.value.is_null(), "--quantize " + flags.spec +
                                    ": int8 takes no bit width; write --quantize int8");
  require(flags.layer_bits.empty(), "--layer-bits does not apply to --quantize int8 (every layer "
                                    "is 8-bit); keep a layer in fp32 with --skip LAYER");
  nlohmann::json pass = spec.options;
  pass["pass"] = "quant.int8";
  if (!flags.calibration.empty()) pass["calibration"] = flags.calibration;
  if (flags.calibration_batches > 0) pass["batches"] = flags.calibration_batches;
  std::vector<std::string> skip = flags.skip;
  skip.insert(skip.end(), flags.exclude.begin(), flags.exclude.end());
  if (!skip.empty()) pass["skip"] = skip;
  // Weights are always symmetric per channel; --symmetric makes the activations int8 too.
  if (flags.symmetric) pass["activations"] = "int8";
  return pass;
}

}  // namespace

nlohmann::json quantize_pass(const QuantizeFlags& flags) {
  if (flags.spec.empty()) {
    require(!flags.per_channel && !flags.symmetric && flags.exclude.empty() &&
                flags.layer_bits.empty(),
            "--per-channel, --symmetric, --quantize-exclude and --layer-bits need --quantize");
    require(flags.calibration.empty() && flags.calibration_batches == 0 && flags.skip.empty(),
            "--calibration, --calibration-batches and --skip need --quantize int8");
    return nullptr;
  }
  const MethodSpec spec = parse_method_spec("--quantize", flags.spec);
  if (spec.method == "int8") return int8_pass(flags, spec);
  require(flags.calibration.empty() && flags.calibration_batches == 0 && flags.skip.empty(),
          "--calibration, --calibration-batches and --skip go with --quantize int8");
  require(find_quantizer_format(spec.method) != nullptr,
          "--quantize " + flags.spec + ": unknown format '" + spec.method +
              "'; known formats: " + quantizer_format_names() + ", and int8 (weights and activations)");
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
