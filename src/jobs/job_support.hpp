#pragma once
// What several jobs share: datasets prepared for a model, and output-path checks done before
// any long work so a typo does not cost a training run.
#include "shrink/data/dataset.hpp"
#include "shrink/nn/model.hpp"
#include "shrink/report/summary.hpp"
#include "shrink/train/evaluator.hpp"
#include "shrink/train/trainer.hpp"

#include <nlohmann/json.hpp>

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
// Throws a bad-input Error unless `path` ends in `extension` and its directory exists, so a
// typo in an extra output fails before the long work.
void check_output_file(const std::string& path, const std::string& extension);

// The model's summary with the bytes and encodings of the file at `path` (a .shrk stores
// tensors sparse or quantized; anything else counts them dense), for inspect and the energy
// model.
ModelSummary summarize_file(const Model& model, const std::string& path);

// The per-class impact of replacing the model evaluated as `before` by the one evaluated as
// `after` on `data` (report/class_impact.hpp), as a report section. With `svg_path`, also draws
// the first 48 changed samples there (when the samples are images; otherwise it warns).
nlohmann::json class_impact_section(const Evaluation& before, const Evaluation& after,
                                    const Dataset& data, const std::string& svg_path,
                                    const std::string& before_name, const std::string& after_name);
// ONNX files carry fp32 weights: warns that an .onnx `output` holds the model's quantized
// weights dequantized (the values the model computes with, not their packed codes).
void warn_if_onnx_dequantizes(const Model& model, const std::string& output);

}  // namespace shrink
