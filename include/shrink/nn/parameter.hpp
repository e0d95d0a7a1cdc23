#pragma once
// A named weight with its gradient and the compression state that training must respect.
#include "shrink/core/tensor.hpp"

#include <string>

namespace shrink {

struct Parameter {
  std::string name;   // stable dotted name: "conv1.weight"
  Tensor value;
  Tensor grad;        // same shape as value once allocated
  Tensor mask;        // empty = dense; otherwise 1 keeps a weight, 0 prunes it for good
  bool trainable = true;  // false for buffers such as BatchNorm running statistics

  bool has_mask() const { return !mask.empty(); }
  // Zeroes the pruned entries of value (and grad, if allocated).
  void apply_mask();
  int64_t nonzeros() const;
};

}  // namespace shrink
