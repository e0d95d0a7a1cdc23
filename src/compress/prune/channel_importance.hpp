#pragma once
// How much each channel unit matters, by one of the structured-pruning criteria. A unit's score
// sums its channels' scores over the whole unit (a residual stream is scored once); higher means
// more important.
#include "shrink/data/dataset.hpp"
#include "shrink/nn/channel_dependencies.hpp"

#include <functional>
#include <string>
#include <vector>

namespace shrink {

struct CalibrationData {
  const Dataset* data = nullptr;  // training data; required by apoz and taylor
  int64_t batches = 8;
  int64_t batch_size = 128;
  uint64_t seed = 0;
};

struct UnitScores {
  std::vector<double> score;  // per unit
  std::vector<char> scored;   // per unit: 0 when the criterion has nothing to measure it by
  // Why a unit may be unscored ("no BatchNorm follows them"), for reports.
  std::string unscored_reason;
};

// Calls body(x, labels) on `calibration.batches` batches of a seeded shuffle of the data.
void for_each_calibration_batch(const CalibrationData& calibration,
                                const std::function<void(const Tensor&, const std::vector<int32_t>&)>& body);

// The mean input sample of each named node over the calibration batches (inference mode), for
// ChannelDependencies::remove to fold the removed channels' contribution into biases.
ChannelDependencies::InputMeans mean_inputs(Model& model, const std::vector<std::string>& nodes,
                                            const CalibrationData& calibration);

// The criteria by name, in help order: l1, l2, fpgm, bn, apoz, taylor.
std::vector<std::string> channel_criteria();
bool criterion_needs_data(const std::string& criterion);

// Scores every unit of `deps` (the analysis of `model`). apoz and taylor run forward (and, for
// taylor, backward) passes over calibration batches in inference mode; the weights and
// BatchNorm statistics are left as they were.
UnitScores channel_importance(Model& model, const ChannelDependencies& deps,
                              const std::string& criterion, const CalibrationData& calibration);

}  // namespace shrink
