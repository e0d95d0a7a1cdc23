#pragma once
// What the int8 tests share: a small image dataset that a tiny CNN learns in a few steps, its
// first samples as one batch, and how often two models predict the same class.
#include "shrink/data/dataset.hpp"
#include "shrink/nn/model.hpp"

#include <cstdint>

namespace shrink::testing {

// `n` images of 1x8x8, 4 classes: a bright quadrant per class over noise, drawn with `seed`.
Dataset quadrants(int64_t n, uint64_t seed);

// The first `n` samples of `data` as one batch.
Tensor first_samples(const Dataset& data, int64_t n);

// The fraction of `data`'s samples (the first `count`) on which `a` and `b` pick the same class,
// run in batches of 256.
double prediction_agreement(Model& a, Model& b, const Dataset& data, int64_t count);

}  // namespace shrink::testing
