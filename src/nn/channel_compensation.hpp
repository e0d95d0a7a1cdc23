#pragma once
// What a consumer (a Conv2d or Linear reading channels that are being removed) loses when those
// input channels go: the mean contribution of the dropped channels to each of its outputs. Folded
// into a bias, it keeps every output's mean over the calibration samples and positions.
#include "shrink/nn/model.hpp"

#include <vector>

namespace shrink {

// Whether dropped_contribution() handles this node: a Conv2d with groups 1, or a Linear over
// one feature axis.
bool compensable(const Node& node, const Shape& input_sample_shape);

// Per output channel of `node`: the mean over output positions of Σ weight × input over the
// dropped input channels, with `input_mean` (the mean input sample, per-sample shape) in place
// of the input. A zero-padded border reads zeros, so a tap that falls outside the input for
// some output positions counts only where it falls inside: the result is the exact mean of the
// dropped channels' contribution over samples and positions, and equals that contribution at
// every position when the dropped channels are constant and no tap reaches the padding.
std::vector<double> dropped_contribution(const Node& node, const Tensor& weight,
                                         const Tensor& input_mean,
                                         const std::vector<char>& dropped);

}  // namespace shrink
