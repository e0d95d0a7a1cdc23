#pragma once
// Gaussian blobs: a dataset a small network learns in a few epochs, shared by the unit tests.
#include "shrink/data/dataset.hpp"

#include <cstdint>
#include <string>

namespace shrink::testing {

// n samples of `classes` blobs in `dims` dimensions: class c is centred at 2.0 on dimension
// stride·c and 0 elsewhere, with N(0, 0.5²) noise on every dimension; labels drawn uniformly.
// Deterministic for a seed.
Dataset gaussian_blobs(int64_t n, uint64_t seed, int classes, int dims, int stride,
                       const std::string& name = "blobs");

}  // namespace shrink::testing
