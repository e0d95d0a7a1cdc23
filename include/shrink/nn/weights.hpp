#pragma once
// Which parameters compression acts on: the weight matrices and kernels of Linear, Conv2d and
// MatMul nodes. Biases and normalization parameters are few and sensitive, so pruning and
// quantization leave them alone.
#include "shrink/nn/model.hpp"

#include <string>
#include <vector>

namespace shrink {

std::vector<Parameter*> compressible_weights(Model& model);
std::vector<const Parameter*> compressible_weights(const Model& model);
// The compressible weights minus those a pass's "exclude" option names, by node ("fc3") or by
// parameter ("fc3.weight"). A name that matches no compressible weight is a bad-input Error
// listing the ones that exist, so a typo never silently compresses a layer meant to be kept.
std::vector<Parameter*> compressible_weights(Model& model, const std::vector<std::string>& exclude);

struct SparsityStats {
  int64_t weights = 0;  // elements of the compressible weights
  int64_t zeros = 0;
  double sparsity() const { return weights ? static_cast<double>(zeros) / weights : 0.0; }
};
SparsityStats weight_sparsity(const Model& model);

// Compressible weights without a mask whose entries are at least `min_zero_fraction` exact
// zeros: a pruned model that went through a format that keeps no masks (ONNX). Training would
// regrow those zeros, since nothing marks them as pruned.
std::vector<const Parameter*> unmasked_sparse_weights(const Model& model,
                                                      double min_zero_fraction = 0.5);
// Gives every weight unmasked_sparse_weights() finds a mask that keeps its non-zero entries, so
// its zeros stay pruned through fine-tuning, as they would had the model kept its masks.
// Returns the names of the weights that got one.
std::vector<std::string> masks_from_zeros(Model& model, double min_zero_fraction = 0.5);

// MACs of one forward pass when multiplications by zero weights are skipped: each node's dense
// MACs scaled by the density of its weight.
int64_t effective_macs(const Model& model);
int64_t effective_macs(const Model& model, const Node& node);

}  // namespace shrink
