#pragma once
// Folding BatchNorm into the layer before it (a graph rewrite): a BatchNorm2d whose input is a
// Conv2d read by nothing else, or a BatchNorm1d after such a Linear with a [N, features]
// output, computes (W x + b - mean) · s + beta with s = gamma / sqrt(var + eps) per channel in
// inference, which is the layer with weight s · W (row by row) and bias (b - mean) · s + beta.
// The BatchNorm node goes, its consumers read the layer, and a layer without a bias gets one.
// Only inference is preserved: batch statistics in training are gone with the node.
#include "shrink/nn/model.hpp"

#include <string>
#include <vector>

namespace shrink {

// Folds every BatchNorm that follows a layer it can fold into and returns the folded
// BatchNorm nodes' names. A layer whose weight is quantized or masked is left alone (its
// quantizer's or mask's state would not describe the scaled weight).
std::vector<std::string> fold_batch_norms(Model& model);

}  // namespace shrink
