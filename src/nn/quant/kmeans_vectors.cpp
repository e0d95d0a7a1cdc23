#include "nn/quant/kmeans_vectors.hpp"

#include "nn/quant/kmeans_1d.hpp"

#include "shrink/core/random.hpp"
#include "shrink/core/threading.hpp"

#include <algorithm>
#include <numeric>

namespace shrink::quant {
namespace {

struct Points {
  std::span<const float> values;
  std::span<const uint8_t> present;
  int64_t d;

  size_t count() const { return values.size() / static_cast<size_t>(d); }
  const float* point(size_t i) const { return values.data() + i * static_cast<size_t>(d); }
  const uint8_t* has(size_t i) const { return present.data() + i * static_cast<size_t>(d); }
};

float* centroid_of(std::vector<float>& centroids, size_t j, int64_t d) {
  return centroids.data() + j * static_cast<size_t>(d);
}

// Centroid j becomes point i, its missing coordinates left as they were.
void seed_from(const Points& p, size_t i, std::vector<float>& centroids, size_t j) {
  float* c = centroid_of(centroids, j, p.d);
  for (int64_t t = 0; t < p.d; ++t)
    if (p.has(i)[t]) c[t] = p.point(i)[t];
}

bool complete(const Points& p, size_t i) {
  return std::all_of(p.has(i), p.has(i) + p.d, [](uint8_t present) { return present != 0; });
}

std::vector<float> plus_plus_init(const Points& p, int k, uint64_t seed) {
  Rng rng(seed);
  const size_t n = p.count();
  // Seeds come from the complete points when there are at least k of them: a centroid seeded by
  // a point with missing coordinates starts with zeros there, far from the cluster it should
  // find.
  std::vector<size_t> candidates;
  for (size_t i = 0; i < n; ++i)
    if (complete(p, i)) candidates.push_back(i);
  if (candidates.size() < static_cast<size_t>(k)) {
    candidates.resize(n);
    std::iota(candidates.begin(), candidates.end(), size_t{0});
  }
  std::vector<float> centroids(static_cast<size_t>(k) * static_cast<size_t>(p.d), 0.0f);
  seed_from(p, candidates[static_cast<size_t>(rng.below(static_cast<int64_t>(candidates.size())))], centroids, 0);
  std::vector<double> distance(candidates.size());
  for (size_t c = 0; c < candidates.size(); ++c) {
    const size_t i = candidates[c];
    distance[c] = partial_distance(p.point(i), p.has(i), centroids.data(), p.d);
  }
  for (size_t j = 1; j < static_cast<size_t>(k); ++j) {
    const double total = std::accumulate(distance.begin(), distance.end(), 0.0);
    if (total == 0.0) {  // every candidate already sits on a centroid: the rest stay unused copies
      std::copy_n(centroids.data(), p.d, centroid_of(centroids, j, p.d));
      continue;
    }
    // A uniform double in [0, total) from 53 random bits.
    const double target = static_cast<double>(rng.next_u64() >> 11) * 0x1p-53 * total;
    double running = 0.0;
    size_t pick = 0;
    for (size_t c = 0; c < candidates.size(); ++c) {
      if (distance[c] == 0.0) continue;
      pick = c;
      running += distance[c];
      if (running > target) break;
    }
    seed_from(p, candidates[pick], centroids, j);
    const float* centroid = centroid_of(centroids, j, p.d);
    for (size_t c = 0; c < candidates.size(); ++c) {
      const size_t i = candidates[c];
      distance[c] = std::min(distance[c], partial_distance(p.point(i), p.has(i), centroid, p.d));
    }
  }
  return centroids;
}

// Assigns every point to its nearest centroid; returns whether any assignment changed.
bool assign(const Points& p, const std::vector<float>& centroids, std::vector<uint32_t>& assignment) {
  bool changed = false;
  const int64_t n = static_cast<int64_t>(p.count());
  const int threads = num_threads();
  // Each point's assignment is its own: the result does not depend on the thread count.
#pragma omp parallel for schedule(static) num_threads(threads) reduction(|| : changed) if (n >= 1024)
  for (int64_t i = 0; i < n; ++i) {
    const size_t at = static_cast<size_t>(i);
    const uint32_t nearest = nearest_vector(p.point(at), p.has(at), centroids, p.d);
    changed = changed || nearest != assignment[at];
    assignment[at] = nearest;
  }
  return changed;
}

// Moves each centroid coordinate to its members' mean; empty clusters take the farthest points.
// Returns whether an empty cluster was re-seeded.
bool update(const Points& p, std::vector<float>& centroids, std::vector<uint32_t>& assignment) {
  const size_t n = p.count(), d = static_cast<size_t>(p.d);
  const size_t k = centroids.size() / d;
  std::vector<double> sums(k * d, 0.0);
  std::vector<int64_t> counts(k * d, 0), members(k, 0);
  for (size_t i = 0; i < n; ++i) {
    const size_t j = assignment[i];
    ++members[j];
    for (size_t t = 0; t < d; ++t)
      if (p.has(i)[t]) {
        sums[j * d + t] += p.point(i)[t];
        ++counts[j * d + t];
      }
  }
  bool any_empty = false;
  for (size_t j = 0; j < k; ++j) {
    any_empty |= members[j] == 0;
    for (size_t t = 0; t < d; ++t)
      if (counts[j * d + t] > 0)
        centroids[j * d + t] = static_cast<float>(sums[j * d + t] / static_cast<double>(counts[j * d + t]));
  }
  if (!any_empty) return false;
  std::vector<double> distance(n);
  for (size_t i = 0; i < n; ++i)
    distance[i] = partial_distance(p.point(i), p.has(i), centroid_of(centroids, assignment[i], p.d), p.d);
  bool reseeded = false;
  for (size_t j = 0; j < k; ++j) {
    if (members[j] > 0) continue;
    const auto farthest = std::max_element(distance.begin(), distance.end());
    if (*farthest == 0.0) break;  // every point is on a centroid: nothing to split
    const size_t i = static_cast<size_t>(farthest - distance.begin());
    seed_from(p, i, centroids, j);
    assignment[i] = static_cast<uint32_t>(j);
    *farthest = 0.0;
    reseeded = true;
  }
  return reseeded;
}

}  // namespace

double partial_distance(const float* point, const uint8_t* present, const float* centroid, int64_t d) {
  double sum = 0.0;
  for (int64_t t = 0; t < d; ++t)
    if (present[t]) {
      const double diff = double{point[t]} - centroid[t];
      sum += diff * diff;
    }
  return sum;
}

uint32_t nearest_vector(const float* point, const uint8_t* present, std::span<const float> centroids,
                        int64_t d) {
  const size_t k = centroids.size() / static_cast<size_t>(d);
  uint32_t best = 0;
  double best_distance = partial_distance(point, present, centroids.data(), d);
  for (size_t j = 1; j < k; ++j) {
    const double distance = partial_distance(point, present, centroids.data() + j * static_cast<size_t>(d), d);
    if (distance < best_distance) {
      best_distance = distance;
      best = static_cast<uint32_t>(j);
    }
  }
  return best;
}

KMeansVectors cluster_vectors(std::span<const float> points, std::span<const uint8_t> present,
                              int64_t d, int k, uint64_t seed, int iterations) {
  const Points p{points, present, d};
  KMeansVectors result;
  result.centroids.assign(static_cast<size_t>(k) * static_cast<size_t>(d), 0.0f);
  result.assignment.assign(p.count(), kNoCluster);
  if (p.count() == 0 || k <= 0) return result;
  result.centroids = plus_plus_init(p, k, seed);
  assign(p, result.centroids, result.assignment);
  for (int round = 1; round <= iterations; ++round) {
    result.iterations = round;
    const bool reseeded = update(p, result.centroids, result.assignment);
    const bool changed = assign(p, result.centroids, result.assignment);
    if (!changed && !reseeded) break;
  }
  return result;
}

}  // namespace shrink::quant
