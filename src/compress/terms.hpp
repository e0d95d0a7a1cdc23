#pragma once
// Factories of the built-in training terms, one per file under src/compress/; the registry
// table in src/compress/term_registry.cpp lists them by name.
#include "shrink/compress/pass.hpp"
#include "shrink/core/error.hpp"

namespace shrink {

std::shared_ptr<TrainingTerm> make_batch_norm_l1(const nlohmann::json& options);
// Pruning schedules (src/compress/prune/).
std::shared_ptr<TrainingTerm> make_gradual_pruning(const nlohmann::json& options);
// Sparse training from scratch: SET and RigL (src/compress/prune/sparse_training.cpp).
std::shared_ptr<TrainingTerm> make_sparse_evolutionary_training(const nlohmann::json& options);
std::shared_ptr<TrainingTerm> make_rigged_lottery(const nlohmann::json& options);
// Distillation losses (src/compress/distill/).
std::shared_ptr<TrainingTerm> make_knowledge_distillation(const nlohmann::json& options);
std::shared_ptr<TrainingTerm> make_hint(const nlohmann::json& options);
std::shared_ptr<TrainingTerm> make_attention_transfer(const nlohmann::json& options);
std::shared_ptr<TrainingTerm> make_relational_distillation(const nlohmann::json& options);
std::shared_ptr<TrainingTerm> make_flow_of_solution_procedure(const nlohmann::json& options);

}  // namespace shrink
