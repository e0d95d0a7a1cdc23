#pragma once
// Factories of the built-in passes, one per file under src/compress/; the registry table in
// src/compress/pass_registry.cpp lists them by name.
#include "shrink/compress/pass.hpp"

namespace shrink {

std::unique_ptr<Pass> make_magnitude_pruner(const nlohmann::json& options);
std::unique_ptr<Pass> make_snip_pruner(const nlohmann::json& options);
std::unique_ptr<Pass> make_obd_pruner(const nlohmann::json& options);
std::unique_ptr<Pass> make_fisher_pruner(const nlohmann::json& options);
std::unique_ptr<Pass> make_taylor_pruner(const nlohmann::json& options);
std::unique_ptr<Pass> make_obs_pruner(const nlohmann::json& options);
std::unique_ptr<Pass> make_finetune(const nlohmann::json& options);
std::unique_ptr<Pass> make_distill_recover(const nlohmann::json& options);
std::unique_ptr<Pass> make_affine_pass(const nlohmann::json& options);
std::unique_ptr<Pass> make_fp16_pass(const nlohmann::json& options);
std::unique_ptr<Pass> make_bf16_pass(const nlohmann::json& options);
std::unique_ptr<Pass> make_pow2_pass(const nlohmann::json& options);
std::unique_ptr<Pass> make_binary_pass(const nlohmann::json& options);
std::unique_ptr<Pass> make_ternary_pass(const nlohmann::json& options);
std::unique_ptr<Pass> make_dorefa_pass(const nlohmann::json& options);
std::unique_ptr<Pass> make_channel_pruner(const nlohmann::json& options);
std::unique_ptr<Pass> make_kmeans_pass(const nlohmann::json& options);
std::unique_ptr<Pass> make_pq_pass(const nlohmann::json& options);
std::unique_ptr<Pass> make_int8_pass(const nlohmann::json& options);

}  // namespace shrink
