#include "nn/quant/kmeans_1d.hpp"

#include "shrink/core/random.hpp"

#include <algorithm>
#include <numeric>

namespace shrink::quant {
namespace {

double squared(double x) { return x * x; }

std::vector<float> linear_init(std::span<const float> values, int k) {
  const auto [low, high] = std::minmax_element(values.begin(), values.end());
  std::vector<float> centroids(static_cast<size_t>(k));
  for (int j = 0; j < k; ++j)
    centroids[static_cast<size_t>(j)] =
        k == 1 ? *low
               : static_cast<float>(double{*low} + (double{*high} - double{*low}) * j / (k - 1));
  return centroids;
}

std::vector<float> plus_plus_init(std::span<const float> values, int k, uint64_t seed) {
  Rng rng(seed);
  const size_t n = values.size();
  std::vector<float> centroids;
  centroids.push_back(values[static_cast<size_t>(rng.below(static_cast<int64_t>(n)))]);
  std::vector<double> distance(n);
  for (size_t i = 0; i < n; ++i) distance[i] = squared(double{values[i]} - centroids[0]);
  while (static_cast<int>(centroids.size()) < k) {
    const double total = std::accumulate(distance.begin(), distance.end(), 0.0);
    if (total == 0.0) {  // every value already sits on a centroid: the rest stay unused
      centroids.push_back(centroids.front());
      continue;
    }
    // A uniform double in [0, total) from 53 random bits.
    const double target = static_cast<double>(rng.next_u64() >> 11) * 0x1p-53 * total;
    double running = 0.0;
    size_t pick = n;
    for (size_t i = 0; i < n; ++i) {
      if (distance[i] == 0.0) continue;
      pick = i;
      running += distance[i];
      if (running > target) break;
    }
    const float chosen = values[pick];
    centroids.push_back(chosen);
    for (size_t i = 0; i < n; ++i)
      distance[i] = std::min(distance[i], squared(double{values[i]} - chosen));
  }
  return centroids;
}

// Assigns every value to its nearest centroid; returns whether any assignment changed.
bool assign(std::span<const float> values, const std::vector<float>& centroids,
            std::vector<uint32_t>& assignment) {
  const std::vector<SortedCentroid> sorted = sorted_centroids(centroids);
  bool changed = false;
  for (size_t i = 0; i < values.size(); ++i) {
    const uint32_t nearest = nearest_centroid(sorted, values[i]);
    changed |= nearest != assignment[i];
    assignment[i] = nearest;
  }
  return changed;
}

// Moves each centroid to its members' mean; empty clusters take the farthest values. Returns
// whether an empty cluster was re-seeded.
bool update(std::span<const float> values, std::vector<float>& centroids,
            std::vector<uint32_t>& assignment) {
  const size_t k = centroids.size();
  std::vector<double> sums(k, 0.0);
  std::vector<int64_t> counts(k, 0);
  for (size_t i = 0; i < values.size(); ++i) {
    sums[assignment[i]] += values[i];
    ++counts[assignment[i]];
  }
  bool any_empty = false;
  for (size_t j = 0; j < k; ++j) {
    if (counts[j] > 0) centroids[j] = static_cast<float>(sums[j] / static_cast<double>(counts[j]));
    else any_empty = true;
  }
  if (!any_empty) return false;
  std::vector<double> distance(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    distance[i] = squared(double{values[i]} - centroids[assignment[i]]);
  bool reseeded = false;
  for (size_t j = 0; j < k; ++j) {
    if (counts[j] > 0) continue;
    const auto farthest = std::max_element(distance.begin(), distance.end());
    if (*farthest == 0.0) break;  // every value is on a centroid: nothing to split
    const size_t i = static_cast<size_t>(farthest - distance.begin());
    centroids[j] = values[i];
    assignment[i] = static_cast<uint32_t>(j);
    *farthest = 0.0;
    reseeded = true;
  }
  return reseeded;
}

}  // namespace

std::vector<SortedCentroid> sorted_centroids(std::span<const float> centroids) {
  std::vector<SortedCentroid> sorted;
  sorted.reserve(centroids.size());
  for (size_t j = 0; j < centroids.size(); ++j)
    sorted.push_back({centroids[j], static_cast<uint32_t>(j)});
  std::sort(sorted.begin(), sorted.end(), [](const SortedCentroid& a, const SortedCentroid& b) {
    return a.value < b.value || (a.value == b.value && a.index < b.index);
  });
  return sorted;
}

uint32_t nearest_centroid(const std::vector<SortedCentroid>& sorted, float value) {
  // The first centroid >= value, and the one before it: the nearest is one of the two.
  const auto above = std::lower_bound(
      sorted.begin(), sorted.end(), value,
      [](const SortedCentroid& c, float v) { return c.value < v; });
  if (above == sorted.begin()) return above->index;
  const auto below = std::prev(above);
  if (above == sorted.end()) {
    // The lowest index among the centroids equal to the largest value.
    auto first = below;
    while (first != sorted.begin() && std::prev(first)->value == below->value) --first;
    return first->index;
  }
  const double down = double{value} - below->value, up = double{above->value} - value;
  if (up < down) return above->index;
  auto first = below;
  while (first != sorted.begin() && std::prev(first)->value == below->value) --first;
  return first->index;
}

KMeans1d cluster_1d(std::span<const float> values, int k, KMeansInit init, uint64_t seed,
                    int iterations) {
  KMeans1d result;
  result.centroids.assign(static_cast<size_t>(k), 0.0f);
  result.assignment.assign(values.size(), kNoCluster);
  if (values.empty() || k <= 0) return result;
  result.centroids =
      init == KMeansInit::Linear ? linear_init(values, k) : plus_plus_init(values, k, seed);
  assign(values, result.centroids, result.assignment);
  for (int round = 1; round <= iterations; ++round) {
    result.iterations = round;
    const bool reseeded = update(values, result.centroids, result.assignment);
    const bool changed = assign(values, result.centroids, result.assignment);
    if (!changed && !reseeded) break;
  }
  // Ascending centroids, so codes follow the values' order.
  const std::vector<SortedCentroid> sorted = sorted_centroids(result.centroids);
  std::vector<uint32_t> new_index(static_cast<size_t>(k));
  for (size_t j = 0; j < sorted.size(); ++j) {
    result.centroids[j] = sorted[j].value;
    new_index[sorted[j].index] = static_cast<uint32_t>(j);
  }
  for (uint32_t& a : result.assignment) a = new_index[a];
  return result;
}

}  // namespace shrink::quant
