#pragma once
// The small models many tests build by hand: a chain of Linear layers with ReLU between them.
#include "shrink/nn/model.hpp"

#include <cstdint>
#include <vector>

namespace shrink::testing {

// widths = {inputs, out1, out2, ...}: Linear layers fc1, fc2, ... with ReLUs relu1, relu2, ...
// between them (none after the last), initialised with `seed`.
Model linear_relu_chain(const std::vector<int64_t>& widths, uint64_t seed);

}  // namespace shrink::testing
