#include "support/blobs.hpp"

#include "shrink/core/random.hpp"

#include <vector>

namespace shrink::testing {

Dataset gaussian_blobs(int64_t n, uint64_t seed, int classes, int dims, int stride,
                       const std::string& name) {
  Rng rng(seed);
  std::vector<float> features;
  std::vector<int32_t> labels;
  for (int64_t i = 0; i < n; ++i) {
    const auto label = static_cast<int32_t>(rng.below(classes));
    for (int d = 0; d < dims; ++d)
      features.push_back((d == stride * label ? 2.0f : 0.0f) + rng.normal(0.0f, 0.5f));
    labels.push_back(label);
  }
  return Dataset::from_floats(name, {dims}, features, labels, classes);
}

}  // namespace shrink::testing
