#pragma once
// What several jobs share: datasets prepared for a model, and output-path checks done before
// any long work so a typo does not cost a training run.
#include "shrink/data/dataset.hpp"
#include "shrink/nn/model.hpp"
#include "shrink/train/trainer.hpp"

#include <string>

namespace shrink {

// Loads `spec`'s split with the model's normalization (from its metadata, if any) and checks
// that the samples fit the model's input.
Dataset load_data_for_model(const Model& model, const std::string& spec, const std::string& split);

// Records in a freshly trained model's metadata what using and reproducing it takes: the class
// names, the input normalization, the dataset and the training config (with the thread count
// and the producer).
void record_training(Model& model, const Dataset& train_data, const std::string& data_spec,
                     const TrainConfig& config);

// Throws a bad-input error unless `output` can be written as a model: known extension, existing
// directory, and not the same file as `input` (which is never overwritten).
void check_output_path(const std::string& output, const std::string& input = "");

// Warns (spdlog) about weights that are mostly exact zeros but have no mask, as a pruned model
// that went through ONNX has: training would regrow their zeros. `advice` says how to keep them.
void warn_about_unmasked_zeros(const Model& model, const std::string& advice);

}  // namespace shrink
