#include "compress/prune/sparsity_schedules.hpp"

#include <algorithm>

namespace shrink {

double agp_sparsity(double initial, double final, int64_t start, int64_t end, int64_t step) {
  if (step < start) return initial;
  if (step >= end) return final;
  const double progress = static_cast<double>(step - start) / static_cast<double>(end - start);
  const double left = 1.0 - std::clamp(progress, 0.0, 1.0);
  return final + (initial - final) * left * left * left;
}

}  // namespace shrink
