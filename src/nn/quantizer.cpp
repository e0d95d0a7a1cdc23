#include "shrink/nn/quantizer.hpp"

#include "nn/quant/quant_support.hpp"
#include "shrink/core/error.hpp"

#include <cmath>

namespace shrink {
namespace {

// One line per weight format; src/nn/quant/ holds one file each.
const QuantizerFormat* const kFormats[] = {
    &kAffineFormat,
    &kFloat16Format,
    &kBFloat16Format,
    &kPowerOfTwoFormat,
    &kBinaryFormat,
    &kTernaryFormat,
    &kDoReFaFormat,
    &kKMeansFormat,
    &kProductFormat,
};

}  // namespace

std::span<const QuantizerFormat* const> quantizer_formats() { return kFormats; }

const QuantizerFormat* find_quantizer_format(std::string_view name) {
  for (const QuantizerFormat* format : kFormats)
    if (name == format->name) return format;
  return nullptr;
}

std::string quantizer_format_names() {
  std::string names;
  for (const QuantizerFormat* format : kFormats)
    names += (names.empty() ? "" : ", ") + std::string(format->name);
  return names;
}

std::unique_ptr<Quantizer> make_quantizer(const std::string& name, const nlohmann::json& options,
                                          const Tensor& weight) {
  const QuantizerFormat* format = find_quantizer_format(name);
  require(format != nullptr,
          "unknown weight format '" + name + "'; known formats: " + quantizer_format_names());
  require_finite(weight, "the weight");
  return format->make(options, weight);
}

void require_finite(const Tensor& values, const std::string& what) {
  for (int64_t i = 0; i < values.numel(); ++i)
    if (!std::isfinite(values[i]))
      throw Error::bad_input(what + " holds " + std::to_string(values[i]) + " at element " +
                             std::to_string(i) + "; quantization needs finite weights (if "
                             "training diverged, lower the learning rate)");
}

double relative_mse(const Tensor& original, const Tensor& quantized) {
  require(original.shape() == quantized.shape(),
          "relative_mse: shapes " + to_string(original.shape()) + " and " +
              to_string(quantized.shape()) + " differ");
  double error = 0.0, energy = 0.0;
  for (int64_t i = 0; i < original.numel(); ++i) {
    const double d = double{original[i]} - double{quantized[i]};
    error += d * d;
    energy += double{original[i]} * double{original[i]};
  }
  return energy > 0.0 ? error / energy : 0.0;
}

}  // namespace shrink
