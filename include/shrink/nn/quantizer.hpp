#pragma once
// Weight quantization: one weight format's state and rules, attached to one Parameter.
//
// A quantized parameter keeps its latent fp32 weight in Parameter::value and a Quantizer beside
// it. The forward pass reads the effective weight (Parameter::effective(): the quantizer's
// values for the latent weight, masked), so Linear and Conv2d know no format. Backward, the op
// writes d loss / d effective weight into the grad and the quantizer turns it into
// d loss / d latent weight by its format's rule (straight-through, clipped where the format
// clips; zero for frozen elements), adding the gradients of any trainable state of its own
// (TTQ's scales) to that state. The .shrk file stores the codes at their bit width plus the
// state (write_state), never the latent weight.
//
// Formats are rows of a traits table (quantizer_formats()), as storage encodings are: a name,
// what it is, how to build a quantizer from options and how to read one back from its state
// bytes. docs/quantization.md says how to add one.
#include "shrink/core/tensor.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace shrink {

struct Parameter;
struct QuantizerFormat;

class Quantizer {
 public:
  virtual ~Quantizer() = default;

  // The row of the formats table this quantizer belongs to.
  virtual const QuantizerFormat& format() const = 0;
  virtual std::unique_ptr<Quantizer> clone() const = 0;
  // The options that rebuild it through format().make ({"bits": 4, "per_channel": true, ...}).
  virtual nlohmann::json options() const = 0;
  // Bits one stored code takes: codes lie in [0, 2^bits).
  virtual int bits() const = 0;

  // --- training and the forward pass ------------------------------------------------------
  // Updates the state that follows the latent weight (a min/max range, XNOR's alpha, TWN's
  // threshold) from `latent`, whose values are finite; `mask` is the parameter's pruning mask
  // (empty if none), so statistics can leave pruned zeros out. Called before fake_quantize
  // whenever the latent weight changed since the last call.
  virtual void follow(const Tensor& latent, const Tensor& mask) { (void)latent, (void)mask; }
  // effective[i] = the quantized value of latent[i] under the current state (same shape).
  virtual void fake_quantize(const Tensor& latent, Tensor& effective) const = 0;
  // On entry `grad` holds d loss / d effective weight, on exit d loss / d latent weight. The
  // gradients of trainable state (state_parameters) are added to their grads.
  virtual void backward(const Tensor& latent, Tensor& grad) = 0;
  // Trainable state, stepped by the optimizer beside the weight (TTQ's two scales; a codebook's
  // centroids). Their names are relative to the weight: the optimizer keys them
  // "<weight>:<name>".
  virtual std::vector<Parameter*> state_parameters() { return {}; }

  // --- storage -------------------------------------------------------------------------------
  // The code of each value of `effective` (values fake_quantize produced, or decode), such that
  // decode(encode(v)) gives back v bit for bit. The writer checks that it does: a value that is
  // none of the format's levels cannot be stored.
  virtual void encode(const Tensor& effective, std::span<uint32_t> codes) const = 0;
  // values[i] = the level of codes[i]; `values` already has the weight's shape.
  virtual void decode(std::span<const uint32_t> codes, Tensor& values) const = 0;
  // Appends the state decode needs (scales, zero points, alpha, exponent range) in the byte
  // layout docs/file-format.md gives for the format; format().read_state reads it back.
  virtual void write_state(std::string& out) const = 0;
};

// One row of the weight-formats table.
struct QuantizerFormat {
  const char* name;         // "affine"; its pass is quant.<name>
  const char* description;  // one line, for help and docs
  // A quantizer for `weight` (finite values; its shape and, for formats that calibrate once,
  // its values) from JSON options. Unknown options and bad values are bad-input Errors.
  std::unique_ptr<Quantizer> (*make)(const nlohmann::json& options, const Tensor& weight);
  // Reads exactly the bytes write_state wrote, for a weight of `shape`; malformed bytes are a
  // bad-input Error saying what is wrong.
  std::unique_ptr<Quantizer> (*read_state)(std::string_view state, const Shape& shape);
};

// Every known format, and the row named `name` (nullptr if none).
std::span<const QuantizerFormat* const> quantizer_formats();
const QuantizerFormat* find_quantizer_format(std::string_view name);
// "affine, fp16, ..." for error messages.
std::string quantizer_format_names();

// Builds format `name` for `weight` (a bad-input Error names the known formats, or the first
// non-finite element: quantizing needs finite weights).
std::unique_ptr<Quantizer> make_quantizer(const std::string& name, const nlohmann::json& options,
                                          const Tensor& weight);

// Throws a bad-input Error naming `what` and the first element that is NaN or infinite.
void require_finite(const Tensor& values, const std::string& what);

// ||a - b||^2 / ||a||^2 (0 when a is all zero): the relative error reports quote for a
// quantized weight against its float original.
double relative_mse(const Tensor& original, const Tensor& quantized);

}  // namespace shrink
