#pragma once
// BatchNorm recalibration after channels are removed. A BatchNorm's running statistics describe
// the inputs it saw in training; once the layers before it lose channels, its input's mean and
// variance move, and normalising with the old statistics scales every later layer wrongly —
// a pruned network can fall to chance accuracy before any fine-tuning though its weights are
// fine (the "adaptive BN" observation of Li et al., EagleEye, ECCV 2020).
#include "channel_importance.hpp"  // relative, so tests reach this private header by path

#include <string>
#include <vector>

namespace shrink {

// Re-estimates the running mean and (unbiased) variance of every BatchNorm the forward pass
// reaches from `calibration`'s batches, run in training mode as during training (each BatchNorm
// normalising by its batch's statistics); the statistics are pooled over all calibration
// samples and positions. Weights are not touched. Returns the BatchNorms recalibrated.
std::vector<std::string> recalibrate_batch_norms(Model& model, const CalibrationData& calibration);

}  // namespace shrink
