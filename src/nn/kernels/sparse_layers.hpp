#pragma once
// What the sparse inference paths of Linear (sparse_linear.hpp) and Conv2d (sparse_conv.hpp)
// share: the SHRINK_SPARSE switch and the cache of a weight's compressed copy.
#include "shrink/core/tensor.hpp"
#include "shrink/nn/parameter.hpp"

#include <cstdint>
#include <utility>

namespace shrink::kernels {

// SHRINK_SPARSE: unset, "" or "auto" lets weights at or below their layer's density threshold
// run sparse; "off" runs every layer dense. Any other value is a bad-input Error. Read once.
bool sparse_execution_enabled();

// A compressed copy of a Parameter's effective weight, redone only when
// Parameter::effective_version says the weight changed (every optimizer step, pass and
// mark_changed), so steady-state inference compresses nothing.
template <class Compressed>
class SparseWeightCache {
 public:
  // Brings the copy up to date: when the weight changed since the last call, counts its
  // non-zeros and stores make(effective weight, non-zeros), which may return an empty form when
  // no shape would run sparse.
  template <class Make>
  void update(const Parameter& weight, Make&& make) {
    const uint64_t version = weight.effective_version();
    if (version == version_) return;
    const Tensor& w = weight.effective();
    nonzeros_ = 0;
    for (float v : w) nonzeros_ += v != 0.0f;
    elements_ = w.numel();
    compressed_ = std::forward<Make>(make)(w, nonzeros_);
    version_ = version;
  }

  uint64_t version() const { return version_; }  // of the weight compressed (0: none yet)
  int64_t nonzeros() const { return nonzeros_; }
  int64_t elements() const { return elements_; }
  const Compressed& compressed() const { return compressed_; }

 private:
  uint64_t version_ = 0;  // the effective_version the copy is for (0: none)
  int64_t nonzeros_ = 0, elements_ = 0;
  Compressed compressed_{};
};

}  // namespace shrink::kernels
