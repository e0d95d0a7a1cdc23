#include "compress/prune/sparsity_schedules.hpp"

#include "shrink/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <numeric>
#include <set>

namespace shrink {

double agp_sparsity(double initial, double final, int64_t start, int64_t end, int64_t step) {
  if (step < start) return initial;
  if (step >= end) return final;
  const double progress = static_cast<double>(step - start) / static_cast<double>(end - start);
  const double left = 1.0 - std::clamp(progress, 0.0, 1.0);
  return final + (initial - final) * left * left * left;
}

double cosine_update_fraction(double alpha, int64_t step, int64_t end) {
  if (step >= end) return 0.0;
  return alpha / 2.0 *
         (1.0 + std::cos(std::numbers::pi * static_cast<double>(step) / static_cast<double>(end)));
}

std::vector<double> layer_densities(const std::vector<Shape>& shapes, double sparsity,
                                    const std::string& distribution) {
  require(distribution == "uniform" || distribution == "er" || distribution == "erk",
          "the per-layer sparsity distribution must be 'erk', 'er' or 'uniform', got '" +
              distribution + "'");
  std::vector<double> sizes, raw;
  for (const Shape& shape : shapes) {
    require(shape.size() >= 2, "sparse training needs weight matrices or kernels, got a tensor of "
                               "shape " + to_string(shape));
    const double size = std::accumulate(shape.begin(), shape.end(), 1.0, std::multiplies<>());
    sizes.push_back(size);
    const double n_out = static_cast<double>(shape[0]), n_in = static_cast<double>(shape[1]);
    raw.push_back(distribution == "er"
                      ? (n_in + n_out) / (n_in * n_out)
                      : std::accumulate(shape.begin(), shape.end(), 0.0) / size);
  }
  if (distribution == "uniform") return std::vector<double>(shapes.size(), 1.0 - sparsity);
  const double total = std::accumulate(sizes.begin(), sizes.end(), 0.0);
  std::set<size_t> dense;
  while (true) {
    // Ones left for the sparse layers once the dense ones take all of theirs, shared in
    // proportion to raw · size: density = epsilon · raw.
    double budget = (1.0 - sparsity) * total, weighted = 0.0;
    for (size_t i = 0; i < shapes.size(); ++i) {
      if (dense.count(i)) budget -= sizes[i];
      else weighted += raw[i] * sizes[i];
    }
    if (weighted == 0.0) break;  // every layer dense: sparsity 0
    const double epsilon = std::max(budget, 0.0) / weighted;
    size_t densest = shapes.size();
    for (size_t i = 0; i < shapes.size(); ++i)
      if (!dense.count(i) && epsilon * raw[i] > 1.0 &&
          (densest == shapes.size() || raw[i] > raw[densest]))
        densest = i;
    if (densest == shapes.size()) {
      std::vector<double> densities(shapes.size(), 1.0);
      for (size_t i = 0; i < shapes.size(); ++i)
        if (!dense.count(i)) densities[i] = epsilon * raw[i];
      return densities;
    }
    dense.insert(densest);
  }
  return std::vector<double>(shapes.size(), 1.0);
}

}  // namespace shrink
