#pragma once
// What the weight formats share: the rows of the formats table, how a weight splits into
// channels, option reading and the checks of a state's bytes.
#include "core/byte_io.hpp"
#include "core/json_options.hpp"
#include "shrink/nn/quantizer.hpp"

#include <cmath>
#include <string>

namespace shrink {

// The rows of the formats table, one per file in src/nn/quant/.
extern const QuantizerFormat kAffineFormat;
extern const QuantizerFormat kFloat16Format;
extern const QuantizerFormat kBFloat16Format;
extern const QuantizerFormat kPowerOfTwoFormat;
extern const QuantizerFormat kBinaryFormat;
extern const QuantizerFormat kTernaryFormat;
extern const QuantizerFormat kDoReFaFormat;
extern const QuantizerFormat kKMeansFormat;
extern const QuantizerFormat kProductFormat;

namespace quant {

// A weight seen as `channels` runs of `size` consecutive elements: one run per output channel
// (the first axis: Linear's and Conv2d's output features) or the whole tensor as one run.
struct Channels {
  int64_t channels = 1;
  int64_t size = 0;

  Channels(const Shape& shape, bool per_channel) {
    const int64_t n = element_count(shape);
    channels = per_channel && !shape.empty() && shape[0] > 0 ? shape[0] : 1;
    size = n / channels;
  }
  int64_t begin(int64_t c) const { return c * size; }
  int64_t end(int64_t c) const { return (c + 1) * size; }
};

// Whether element i takes part in statistics: pruned zeros (mask 0) do not.
inline bool counts(const Tensor& mask, int64_t i) { return mask.empty() || mask[i] != 0.0f; }

// Mean |w| over the counted elements of [begin, end); 0 when none count.
inline float mean_abs(const Tensor& w, const Tensor& mask, int64_t begin, int64_t end) {
  double sum = 0.0;
  int64_t n = 0;
  for (int64_t i = begin; i < end; ++i)
    if (counts(mask, i)) {
      sum += std::abs(w[i]);
      ++n;
    }
  return n ? static_cast<float>(sum / static_cast<double>(n)) : 0.0f;
}

// A code outside the ones a format uses is a bad-input Error (a corrupt file). This runs once
// per element of every loaded weight, so the message is built only on failure: building it
// every time made loading a compressed LeNet-5 take 37 ms instead of 2.
inline void require_code(uint32_t code, uint32_t last, const char* format) {
  if (code <= last) return;
  throw Error::bad_input(std::string(format) + " code " + std::to_string(code) +
                         " is not one the format uses (the largest is " + std::to_string(last) + ")");
}

// Reads a non-negative finite float (a scale that is zero for an all-zero channel).
inline float read_non_negative(bytes::Reader& in, const char* field) {
  const float value = in.f32(field);
  require(std::isfinite(value) && value >= 0.0f,
          in.what() + " has a " + field + " of " + std::to_string(value) +
              "; it must be finite and not negative");
  return value;
}

inline JsonOptions quantizer_options(const char* format, const nlohmann::json& options) {
  return JsonOptions(std::string("quantizer ") + format, options);
}

// Reads an integer bit width in [low, high] from the options.
inline int read_bits(JsonOptions& options, const char* format, int fallback, int low, int high) {
  const int bits = options.get<int>("bits", fallback);
  require(bits >= low && bits <= high, std::string("quantizer ") + format + ": bits must be " +
                                           (low == high ? std::to_string(low)
                                                        : "in " + std::to_string(low) + ".." +
                                                              std::to_string(high)) +
                                           ", got " + std::to_string(bits));
  return bits;
}

// The "centroid_grad" option of the weight-sharing formats (kmeans, pq): true for "mean" (the
// default; a shared value steps by its members' mean gradient), false for "sum" (the true
// derivative of the loss; Deep Compression's update).
inline bool read_centroid_grad(JsonOptions& options, const char* format) {
  const std::string rule = options.get<std::string>("centroid_grad", "mean");
  require(rule == "mean" || rule == "sum",
          std::string("quantizer ") + format +
              ": centroid_grad must be 'mean' (each shared value steps by its members' mean gradient) or "
              "'sum' (by their sum, Deep Compression's rule), got '" + rule + "'");
  return rule == "mean";
}

// A reader over a format's state bytes, whose errors say "<format> state ...".
inline bytes::Reader state_reader(std::string_view state, const char* format) {
  return bytes::Reader(state, std::string(format) + " state");
}

// Reads the channel count and checks it against the weight's shape.
inline Channels read_channels(bytes::Reader& in, const Shape& shape, bool per_channel) {
  const Channels expected(shape, per_channel);
  const int64_t stored = in.u32("channel count");
  require(stored == expected.channels,
          in.what() + " has " + std::to_string(stored) + " channels but a weight of shape " +
              to_string(shape) + (per_channel ? " per channel" : " per tensor") + " has " +
              std::to_string(expected.channels));
  return expected;
}

inline float read_positive(bytes::Reader& in, const char* field) {
  const float value = in.f32(field);
  require(std::isfinite(value) && value > 0.0f,
          in.what() + " has a " + field + " of " + std::to_string(value) +
              "; it must be finite and positive");
  return value;
}

}  // namespace quant
}  // namespace shrink
