// ChannelDependencies::remove: rebuilds the graph with smaller attributes (out_channels,
// out_features, groups of depthwise convolutions, per-channel constants, Reshape targets) and
// copies every parameter with the removed channels sliced out of the axes that follow them.
#include "shrink/core/error.hpp"
#include "shrink/nn/channel_dependencies.hpp"

#include <cstring>

namespace shrink {
namespace {

using Indices = std::vector<int64_t>;

// The entries of `t` at `keep` along `axis`, in order.
Tensor take(const Tensor& t, size_t axis, const Indices& keep) {
  if (t.empty()) return t;
  Shape shape = t.shape();
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < axis; ++d) outer *= shape[d];
  for (size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
  const int64_t size = shape[axis];
  shape[axis] = static_cast<int64_t>(keep.size());
  Tensor out(shape);
  float* dst = out.data();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k : keep) {
      std::memcpy(dst, t.data() + (o * size + k) * inner, static_cast<size_t>(inner) * sizeof(float));
      dst += inner;
    }
  return out;
}

Indices kept_channels(const std::vector<int>& units, const std::vector<char>& removed) {
  Indices keep;
  for (size_t c = 0; c < units.size(); ++c)
    if (!removed[static_cast<size_t>(units[c])]) keep.push_back(static_cast<int64_t>(c));
  return keep;
}

}  // namespace

Model ChannelDependencies::remove(const Model& model, const std::vector<char>& removed) const {
  const auto& nodes = model.nodes();
  bool same = nodes.size() == node_names_.size() && model.input_name() == input_name_;
  for (size_t i = 0; same && i < nodes.size(); ++i) same = nodes[i].name == node_names_[i];
  if (!same) throw Error::internal("channel removal was given a model other than the one analysed");
  if (removed.size() != units_.size())
    throw Error::internal("channel removal needs one flag per unit (" + std::to_string(units_.size()) +
                          "), got " + std::to_string(removed.size()));
  for (size_t u = 0; u < units_.size(); ++u)
    if (removed[u] && !units_[u].removable())
      throw Error::internal("channel unit " + std::to_string(u) + " cannot be removed");

  auto units_of = [&](const std::string& value) -> const std::vector<int>& { return channel_units(value); };
  std::vector<Indices> keep_out(nodes.size()), keep_in(nodes.size());
  nlohmann::json graph = model.graph_json();
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& node = nodes[i];
    keep_out[i] = kept_channels(node_units_[i], removed);
    if (keep_out[i].empty())
      throw Error::bad_input("removing these channels would leave node " + node.name +
                             " with none; keep at least one channel per group");
    keep_in[i] = kept_channels(units_of(node.inputs[0]), removed);
    const auto out_count = static_cast<int64_t>(keep_out[i].size());
    nlohmann::json& attributes = graph["nodes"][i]["attributes"];
    const std::string type = node.op->type();
    switch (info_[i].role) {
      case Role::kProducer:
        attributes[type == "Linear" ? "out_features" : "out_channels"] = out_count;
        break;
      case Role::kDepthwise:
        attributes["out_channels"] = out_count;
        attributes["groups"] = static_cast<int64_t>(keep_in[i].size());
        break;
      case Role::kChannelConstant:
        attributes["constant_shape"][static_cast<size_t>(info_[i].constant_axis)] = out_count;
        break;
      case Role::kReshape:
        if (attributes["shape"].size() > 1 && attributes["shape"][1].get<int64_t>() > 0)
          attributes["shape"][1] = out_count;
        break;
      case Role::kPerChannel:
      case Role::kOther:
        break;
    }
  }

  Model result = Model::from_graph_json(graph);
  result.metadata = model.metadata;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& node = nodes[i];
    const NodeInfo& info = info_[i];
    const int64_t channels = channel_count(result.node(node.name).output_shape);
    if (channels != static_cast<int64_t>(keep_out[i].size()))
      throw Error::internal("channel removal: node " + node.name + " has " +
                            std::to_string(channels) +
                            " channels after the rewrite, expected " +
                            std::to_string(keep_out[i].size()));
    for (size_t j = 0; j < node.parameters.size(); ++j) {
      const Parameter& from = model.parameter(node.parameters[j]);
      Tensor value = from.value, mask = from.mask;
      auto slice = [&](size_t axis, const Indices& keep) {
        value = take(value, axis, keep);
        mask = take(mask, axis, keep);
      };
      switch (info.role) {
        case Role::kProducer:
          slice(j == 0 ? static_cast<size_t>(info.out_axis) : 0, keep_out[i]);
          if (j == 0) slice(static_cast<size_t>(info.in_axis), keep_in[i]);
          break;
        case Role::kDepthwise:
        case Role::kPerChannel:
          slice(0, keep_out[i]);
          break;
        case Role::kChannelConstant:
          slice(static_cast<size_t>(info.constant_axis), keep_out[i]);
          break;
        case Role::kReshape:
        case Role::kOther:
          break;
      }
      Parameter& to = result.parameter(from.name);
      if (to.value.shape() != value.shape())
        throw Error::internal("channel removal: parameter " + from.name + " was cut to " +
                              to_string(value.shape()) + " but the rewritten node needs " +
                              to_string(to.value.shape()));
      to.value = std::move(value);
      to.mask = std::move(mask);
      to.trainable = from.trainable;
    }
  }
  return result;
}

}  // namespace shrink
