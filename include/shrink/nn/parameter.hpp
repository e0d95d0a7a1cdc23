#pragma once
// A named weight with its gradient and the compression state that training must respect.
#include "shrink/core/tensor.hpp"
#include "shrink/nn/quantizer.hpp"

#include <memory>
#include <string>

namespace shrink {

struct Parameter {
  std::string name;   // stable dotted name: "conv1.weight"
  Tensor value;       // the weight; for a quantized parameter, the latent fp32 weight
  Tensor grad;        // same shape as value once allocated
  Tensor mask;        // empty = dense; otherwise 1 keeps a weight, 0 prunes it for good
  bool trainable = true;  // false for buffers such as BatchNorm running statistics

  Parameter() = default;
  Parameter(const Parameter& other);  // copies the quantizer too
  Parameter& operator=(const Parameter& other);
  Parameter(Parameter&&) noexcept = default;
  Parameter& operator=(Parameter&&) noexcept = default;
  ~Parameter();

  bool has_mask() const { return !mask.empty(); }
  // Zeroes the pruned entries of value (and grad, if allocated).
  void apply_mask();
  // Non-zero elements of the effective weight (a ternary weight's zeros count as zeros).
  int64_t nonzeros() const;

  // --- quantization (include/shrink/nn/quantizer.hpp) -------------------------------------
  bool quantized() const { return quantizer_ != nullptr; }
  const Quantizer* quantizer() const { return quantizer_.get(); }
  Quantizer* quantizer() { return quantizer_.get(); }
  // Attaches a quantizer (nullptr removes it); the next effective() quantizes `value`.
  void set_quantizer(std::unique_ptr<Quantizer> quantizer);
  // What the forward pass multiplies by: `value` itself for a plain parameter; for a quantized
  // one the quantizer's values for `value`, masked. Computed once and cached until
  // mark_changed(), so inference pays no dequantization per forward pass. A non-finite latent
  // value is a bad-input Error.
  const Tensor& effective() const;
  // Says that `value`, `mask` or the quantizer's state changed, so the next effective()
  // recomputes. The optimizer, Model::initialize, apply_mask and every Pass::run call it, and a
  // training forward pass always recomputes; call it after editing a weight's value by hand
  // before running inference (a sparse kernel's compressed copy is redone too).
  void mark_changed() { fresh_ = false; }
  // Declares that `value` already holds the quantized values (a file's decoded codes): the
  // effective weight is `value` itself until the next change, with no requantization.
  void adopt_value_as_effective();
  // A number that changes whenever effective() is recomputed or mark_changed() was called (and
  // is never reused by another parameter), so a kernel can cache a form derived from it, such
  // as packed sign bits or compressed sparse rows, and know when to redo it: whoever edits
  // `value` by hand calls mark_changed() before the next inference.
  uint64_t effective_version() const;

 private:
  std::unique_ptr<Quantizer> quantizer_;
  mutable Tensor effective_;     // quantized parameters only
  mutable bool fresh_ = false;   // effective_ matches value, mask and the quantizer
  mutable uint64_t version_ = 0;
};

}  // namespace shrink
