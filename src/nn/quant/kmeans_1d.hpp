#pragma once
// One-dimensional k-means (Lloyd's algorithm), the clustering behind the kmeans weight format
// (Deep Compression's weight sharing, Han et al. 2016).
//
// Initialisation:
//   linear:   k centroids evenly spaced over [min, max] of the values (the paper's choice: it
//             keeps centroids on the rare large weights, which matter most);
//   kmeans++: the first centroid a uniformly drawn value, each next one a value drawn with
//             probability proportional to its squared distance to the nearest centroid so far
//             (Arthur and Vassilvitskii 2007), from shrink's seeded Rng.
// Then Lloyd's iterations: assign every value to its nearest centroid (ties to the smaller
// centroid), move every centroid to the mean of its members, until no assignment changes or
// `iterations` rounds. An empty cluster takes the value farthest from its centroid (if any value
// is not already exactly on one); one that still finds none keeps its place, unused.
// Centroids come out sorted ascending, so code 0 is the smallest.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace shrink::quant {

// The assignment of a value (or point, nn/quant/kmeans_vectors.hpp) before the first pass.
inline constexpr uint32_t kNoCluster = UINT32_MAX;

enum class KMeansInit { Linear, PlusPlus };

struct KMeans1d {
  std::vector<float> centroids;     // k, ascending
  std::vector<uint32_t> assignment; // one per value: the index of its centroid
  int iterations = 0;               // Lloyd rounds run
};

// Clusters `values` (finite) into k >= 1 centroids. No values: k zero centroids.
KMeans1d cluster_1d(std::span<const float> values, int k, KMeansInit init, uint64_t seed,
                    int iterations);

// Index of the centroid nearest to `value` in `centroids` (any order; ties to the lower index).
// `sorted` is sorted_centroids(centroids), built once for many look-ups.
struct SortedCentroid {
  float value;
  uint32_t index;
};
std::vector<SortedCentroid> sorted_centroids(std::span<const float> centroids);
uint32_t nearest_centroid(const std::vector<SortedCentroid>& sorted, float value);

}  // namespace shrink::quant
