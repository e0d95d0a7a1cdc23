#include "shrink/nn/parameter.hpp"

#include <atomic>

namespace shrink {
namespace {

// Versions are drawn from one counter, so two parameters never share one.
uint64_t next_version() {
  static std::atomic<uint64_t> counter{0};
  return ++counter;
}

}  // namespace

Parameter::Parameter(const Parameter& other)
    : name(other.name), value(other.value), grad(other.grad), mask(other.mask),
      trainable(other.trainable),
      quantizer_(other.quantizer_ ? other.quantizer_->clone() : nullptr),
      effective_(other.effective_), fresh_(other.fresh_),
      version_(other.fresh_ ? next_version() : 0) {}

Parameter& Parameter::operator=(const Parameter& other) {
  if (this != &other) *this = Parameter(other);
  return *this;
}

Parameter::~Parameter() = default;

void Parameter::apply_mask() {
  mark_changed();
  if (!has_mask()) return;
  value.flat().array() *= mask.flat().array();
  if (grad.numel() == value.numel()) grad.flat().array() *= mask.flat().array();
}

int64_t Parameter::nonzeros() const {
  int64_t n = 0;
  for (float v : effective()) n += v != 0.0f;
  return n;
}

void Parameter::set_quantizer(std::unique_ptr<Quantizer> quantizer) {
  quantizer_ = std::move(quantizer);
  effective_ = Tensor();
  fresh_ = false;
}

const Tensor& Parameter::effective() const {
  if (!quantizer_) return value;
  if (fresh_) return effective_;
  require_finite(value, "parameter " + name);
  quantizer_->follow(value, mask);
  effective_.resize(value.shape());
  quantizer_->fake_quantize(value, effective_);
  // A pruned zero stays zero (+0.0, as a file stores it), whatever the format's levels.
  if (has_mask())
    for (int64_t i = 0; i < value.numel(); ++i)
      if (mask[i] == 0.0f) effective_[i] = 0.0f;
  fresh_ = true;
  version_ = next_version();
  return effective_;
}

void Parameter::adopt_value_as_effective() {
  if (!quantizer_) return;
  effective_ = value;
  fresh_ = true;
  version_ = next_version();
}

uint64_t Parameter::effective_version() const {
  if (quantizer_) {
    effective();
  } else if (!fresh_) {
    // A plain parameter's effective weight is `value`: a new version after each change.
    fresh_ = true;
    version_ = next_version();
  }
  return version_;
}

}  // namespace shrink
