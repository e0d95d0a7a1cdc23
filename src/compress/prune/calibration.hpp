#pragma once
// Calibration for the pruning criteria that look at the loss: a fixed, seeded sample of the
// training data, fed in batches to a copy of the model (so the model itself keeps its gradients,
// BatchNorm statistics and random stream), and the gradients or curvature of the mean
// cross-entropy on it.
#include "../pass_options.hpp"  // relative, so tests reach this private header by path
#include "shrink/compress/pass.hpp"

#include <functional>
#include <string>
#include <vector>

namespace shrink {

struct CalibrationOptions {
  int64_t samples = 1024;  // training samples the criterion looks at
  int64_t batch = 128;     // per forward/backward pass

  // Reads "samples" and "batch"; `what` names the pass in errors.
  static CalibrationOptions read(PassOptions& options, const std::string& what);
  nlohmann::json to_json() const;
};

// Calls body(x, labels) on consecutive batches of a seeded random sample of min(samples, all)
// training samples of context.train (the sample depends on context.finetune.seed only). A
// bad-input Error when the context has no training data or it does not fit the model.
void for_each_calibration_batch(const Model& model, const PassContext& context,
                                const CalibrationOptions& options, int64_t batch,
                                const std::function<void(const Tensor& x,
                                                         const std::vector<int32_t>& labels)>& body);

// Sets every parameter's grad of `model` to the gradient of the batch's mean cross-entropy.
// `training` runs the forward pass as a training step would (batch statistics, dropout).
// Returns the loss.
double loss_gradients(Model& model, const Tensor& x, const std::vector<int32_t>& labels,
                      bool training);

// The weights of `copy` with the names of `weights` (a clone of the model they belong to).
std::vector<Parameter*> same_weights(Model& copy, const std::vector<Parameter*>& weights);

// One zero tensor per weight, of its shape.
std::vector<Tensor> zeros_like(const std::vector<Parameter*>& weights);

}  // namespace shrink
