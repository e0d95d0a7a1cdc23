#pragma once
// Built-in network architectures by name, and graph JSON files, as models ready to train.
#include "shrink/core/tensor.hpp"
#include "shrink/nn/model.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace shrink {

struct ArchitectureInfo {
  std::string name;         // "lenet5"
  std::string description;  // one line for --help
  std::string options;      // the options it takes, e.g. "hidden: [256, 128]"; empty if none
};

// Known architectures in the order a help text lists them.
std::vector<ArchitectureInfo> list_architectures();

// Builds `name` for samples of `input_shape` (no batch dimension, e.g. [1, 28, 28]) and
// `num_classes` outputs, with parameters drawn by Model::initialize(options["seed"], default 0).
// `name` is a built-in ("mlp", "lenet-300-100", "lenet5", "vgg-small", "resnet-small") or a path
// ending in ".json" holding a Model::graph_json() description; such a file must take
// `input_shape` and give `num_classes` outputs (num_classes <= 0 skips the second check).
// Every option an architecture does not know is an error, so a typo cannot go unnoticed.
// The model's metadata records {"architecture": name, "num_classes": n}.
Model build_architecture(const std::string& name, const Shape& input_shape, int num_classes,
                         const nlohmann::json& options = {});

}  // namespace shrink
