#include "compress/passes.hpp"
#include "shrink/core/error.hpp"

#include <utility>

namespace shrink {
namespace {

using Factory = std::unique_ptr<Pass> (*)(const nlohmann::json&);

// One line per pass.
const std::pair<const char*, Factory> kPasses[] = {
    {"prune.magnitude", make_magnitude_pruner},
    {"prune.snip", make_snip_pruner},
    {"prune.obd", make_obd_pruner},
    {"prune.fisher", make_fisher_pruner},
    {"prune.taylor", make_taylor_pruner},
    {"prune.obs", make_obs_pruner},
    {"train.finetune", make_finetune},
    {"distill.recover", make_distill_recover},
    {"quant.affine", make_affine_pass},
    {"quant.fp16", make_fp16_pass},
    {"quant.bf16", make_bf16_pass},
    {"quant.pow2", make_pow2_pass},
    {"quant.binary", make_binary_pass},
    {"quant.ternary", make_ternary_pass},
    {"quant.dorefa", make_dorefa_pass},
    {"prune.channels", make_channel_pruner},
    {"quant.kmeans", make_kmeans_pass},
    {"quant.pq", make_pq_pass},
    {"quant.int8", make_int8_pass},
};

}  // namespace

std::unique_ptr<Pass> make_pass(const std::string& name, const nlohmann::json& options) {
  for (const auto& [pass_name, factory] : kPasses)
    if (name == pass_name) return factory(options);
  std::string known;
  for (const auto& entry : kPasses) known += (known.empty() ? "" : ", ") + std::string(entry.first);
  throw Error::bad_input("unknown pass '" + name + "'; known passes: " + known);
}

std::vector<std::string> pass_names() {
  std::vector<std::string> names;
  for (const auto& entry : kPasses) names.emplace_back(entry.first);
  return names;
}

}  // namespace shrink
