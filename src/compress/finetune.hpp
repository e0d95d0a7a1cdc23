#pragma once
// What the passes that train share (train.finetune, distill.recover): the training options a
// recipe may override — epochs, batch, lr, momentum, weight_decay, nesterov, optimizer,
// schedule — checked when the pass is built and resolved against PassContext::finetune when it
// runs, and the training run itself with its per-epoch report.
#include "compress/pass_options.hpp"
#include "shrink/compress/pass.hpp"

#include <string>

namespace shrink {

// Reads (and so marks known) and checks the training options in `options`.
void read_training_options(PassOptions& options, const std::string& pass);
// `defaults` with the options given in `overrides` applied.
TrainConfig training_config(const nlohmann::json& overrides, const TrainConfig& defaults);
// Trains `model` on the context's training data with the context's terms and `terms`, logging
// each epoch as `what` ("fine-tune"); returns {"epochs": [...]}, each epoch's report.
nlohmann::json train_in_pass(Model& model, PassContext& context, const TrainConfig& config,
                             const TrainingTerms& terms, const std::string& what);

}  // namespace shrink
