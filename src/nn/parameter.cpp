#include "shrink/nn/parameter.hpp"

namespace shrink {

void Parameter::apply_mask() {
  if (!has_mask()) return;
  value.flat().array() *= mask.flat().array();
  if (grad.numel() == value.numel()) grad.flat().array() *= mask.flat().array();
}

int64_t Parameter::nonzeros() const {
  int64_t n = 0;
  for (float v : value) n += v != 0.0f;
  return n;
}

}  // namespace shrink
