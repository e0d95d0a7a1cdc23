#pragma once
// The ops that may act along the batch axis 0 when a model only runs: an imported ONNX graph
// that concatenates, normalizes, flattens or transposes across its axis 0 (ONNX knows no batch
// axis). Attribute "across_batch" (default false) allows axis 0; such an op mixes the samples of
// a batch, so its output's axis 0 is no longer the batch: it sizes its own output, and a
// training pass through it is refused, since the per-sample losses and gradients the trainer
// takes would mix samples too.
#include "nn/ops/op_support.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace shrink::ops {

struct AcrossBatch {
  bool allowed = false;

  static AcrossBatch read(const nlohmann::json& attributes, const std::string& op) {
    AcrossBatch a;
    if (attributes.contains("across_batch")) {
      require(attributes.at("across_batch").is_boolean(),
              op + ": attribute 'across_batch' must be true or false, got " +
                  attributes.at("across_batch").dump());
      a.allowed = attributes.at("across_batch").get<bool>();
    }
    return a;
  }

  // Written only when set, so the ops' usual attributes stay as they were.
  void write(nlohmann::json& attributes) const {
    if (allowed) attributes["across_batch"] = true;
  }

  void check_inference(const OpArgs& args, const std::string& what) const {
    if (allowed && args.training)
      throw Error::bad_input(what + " acts across the batch axis 0 (across_batch), which mixes "
                             "the samples of a batch: such a model runs for inference only, "
                             "it cannot be trained or fine-tuned");
  }
};

}  // namespace shrink::ops
