#pragma once
// k-means over short vectors whose coordinates may be missing: the clustering behind product
// quantization (the pq weight format; Gong et al. 2014, Stock et al. 2020). A point's missing
// coordinates (pruned weights, or the unused tail of a row's last, shorter sub-vector) take no
// part: its distance to a centroid sums only over the coordinates it has, and a centroid's
// coordinate is the mean of the members that have it.
//
// Initialisation by k-means++ (Arthur and Vassilvitskii 2007) from shrink's seeded Rng: the
// first centroid a uniformly drawn point, each next one a point drawn with probability
// proportional to its squared distance to the nearest centroid so far. Seeds are drawn from the
// points that have every coordinate when there are at least k of them, else from all points (a
// point's missing coordinates then start as 0 in the centroid it seeds). Then Lloyd's iterations: assign every point to
// its nearest centroid (ties to the lower index), move each centroid coordinate to its members'
// mean (a coordinate no member has keeps its value), until no assignment changes or
// `iterations` rounds. A cluster left empty takes the point farthest from its centroid (if any
// point is not already exactly on one); one that still finds none stays unused. The same points,
// k and seed give the same centroids and assignment.
#include <cstdint>
#include <span>
#include <vector>

namespace shrink::quant {

struct KMeansVectors {
  std::vector<float> centroids;     // k x d, row-major
  std::vector<uint32_t> assignment; // one per point: the index of its centroid
  int iterations = 0;               // Lloyd rounds run
};

// Clusters the points (n x d values, row-major, finite) into k >= 1 centroids of d coordinates.
// `present` (n x d, 0 or 1) says which coordinates each point has; every point has at least one.
// No points: k zero centroids.
KMeansVectors cluster_vectors(std::span<const float> points, std::span<const uint8_t> present,
                              int64_t d, int k, uint64_t seed, int iterations);

// Squared distance of a point to a centroid over the point's present coordinates.
double partial_distance(const float* point, const uint8_t* present, const float* centroid, int64_t d);

// The index of the centroid nearest to the point (ties to the lower index) among k.
uint32_t nearest_vector(const float* point, const uint8_t* present, std::span<const float> centroids,
                        int64_t d);

}  // namespace shrink::quant
