#include "support/toy_images.hpp"

#include "shrink/core/random.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace shrink::testing {

Dataset quadrants(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> pixels;
  std::vector<int32_t> labels;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t label = static_cast<int32_t>(i % 4);
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 8; ++x)
        pixels.push_back(rng.normal((y / 4) * 2 + x / 4 == label ? 1.0f : 0.0f, 0.3f));
    labels.push_back(label);
  }
  return Dataset::from_floats("quadrants", {1, 8, 8}, std::move(pixels), std::move(labels), 4);
}

Tensor first_samples(const Dataset& data, int64_t n) {
  std::vector<int64_t> indices;
  for (int64_t i = 0; i < n; ++i) indices.push_back(i);
  Tensor x;
  std::vector<int32_t> labels;
  data.gather(indices, x, labels);
  return x;
}

double prediction_agreement(Model& a, Model& b, const Dataset& data, int64_t count) {
  int64_t same = 0;
  for (int64_t start = 0; start < count; start += 256) {
    std::vector<int64_t> indices;
    for (int64_t i = start; i < std::min<int64_t>(count, start + 256); ++i) indices.push_back(i);
    Tensor x;
    std::vector<int32_t> labels;
    data.gather(indices, x, labels);
    const Tensor& from_a = a.forward(x);
    const Tensor& from_b = b.forward(x);
    if (from_a.shape() != from_b.shape()) {
      ADD_FAILURE() << "the two models' outputs differ in shape";
      return 0.0;
    }
    const int64_t rows = from_a.dim(0), classes = from_a.numel() / rows;
    for (int64_t r = 0; r < rows; ++r) {
      const float* p = from_a.data() + r * classes;
      const float* q = from_b.data() + r * classes;
      same += std::max_element(p, p + classes) - p == std::max_element(q, q + classes) - q;
    }
  }
  return static_cast<double>(same) / static_cast<double>(count);
}

}  // namespace shrink::testing
