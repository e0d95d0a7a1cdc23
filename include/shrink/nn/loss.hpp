#pragma once
// Losses over a batch of logits, each returning the mean loss and, on request, its gradient.
#include "shrink/core/tensor.hpp"

#include <cstdint>
#include <vector>

namespace shrink {

// Softmax cross-entropy of logits [N, K] against class labels (N values in [0, K)), averaged
// over the batch, computed with a stable log-softmax. Label smoothing follows PyTorch: the
// target is (1 - s) * one_hot(label) + s / K, with s in [0, 1]. When grad_logits is not null it
// receives d(mean loss) / d logits = (softmax(logits) - target) / N, resized to [N, K].
float cross_entropy(const Tensor& logits, const std::vector<int32_t>& labels,
                    float label_smoothing = 0.0f, Tensor* grad_logits = nullptr);

}  // namespace shrink
