// ChannelDependencies::remove: rebuilds the graph with smaller attributes (out_channels,
// out_features, groups of depthwise convolutions, per-channel constants, Reshape targets) and
// copies every parameter with the removed channels sliced out of the axes that follow them,
// folding the removed channels' mean contribution into the consumers' biases when asked.
#include "nn/channel_compensation.hpp"
#include "shrink/core/error.hpp"
#include "shrink/nn/channel_dependencies.hpp"

#include <algorithm>
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

std::vector<char> dropped_channels(const std::vector<int>& units, const std::vector<char>& removed) {
  std::vector<char> dropped;
  for (int u : units) dropped.push_back(removed[static_cast<size_t>(u)]);
  return dropped;
}

Tensor as_tensor(const std::vector<double>& values) {
  Tensor t({static_cast<int64_t>(values.size())});
  for (size_t i = 0; i < values.size(); ++i) t[static_cast<int64_t>(i)] = static_cast<float>(values[i]);
  return t;
}

// The node that alone reads `value` (and the model does not return it), or -1.
int sole_reader(const Model& model, const std::string& value) {
  if (value == model.output_name()) return -1;
  int reader = -1;
  for (size_t i = 0; i < model.nodes().size(); ++i)
    for (const auto& input : model.nodes()[i].inputs)
      if (input == value) {
        if (reader >= 0) return -1;
        reader = static_cast<int>(i);
      }
  return reader;
}

}  // namespace

std::vector<std::string> ChannelDependencies::compensable_consumers(const Model& model,
                                                                    const std::vector<char>& removed) const {
  std::vector<std::string> names;
  for (size_t i = 0; i < model.nodes().size() && i < info_.size(); ++i) {
    const Node& node = model.nodes()[i];
    if (info_[i].role != Role::kProducer || model.is_input(node.inputs[0])) continue;
    const std::vector<char> dropped = dropped_channels(channel_units(node.inputs[0]), removed);
    if (std::find(dropped.begin(), dropped.end(), 1) == dropped.end()) continue;
    if (compensable(node, model.node(node.inputs[0]).output_shape)) names.push_back(node.name);
  }
  return names;
}

Model ChannelDependencies::remove(const Model& model, const std::vector<char>& removed,
                                  const InputMeans& input_means) const {
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

  // Compensation: per node, what to add to its bias (or to subtract from its BatchNorm's running
  // mean), indexed by its original output channels.
  std::map<size_t, std::vector<double>> add_to_bias, new_bias, shift_running_mean;
  for (const auto& [name, mean] : input_means) {
    size_t i = 0;
    while (i < nodes.size() && nodes[i].name != name) ++i;
    if (i == nodes.size() || info_[i].role != Role::kProducer ||
        !compensable(nodes[i], model.node(nodes[i].inputs[0]).output_shape))
      throw Error::internal("channel compensation: " + name + " is not a Conv2d or Linear consumer");
    const Node& node = nodes[i];
    const std::vector<double> delta =
        dropped_contribution(node, model.parameter(node.name + ".weight").effective(), mean,
                             dropped_channels(units_of(node.inputs[0]), removed));
    const int reader = sole_reader(model, node.name);
    if (model.find_parameter(node.name + ".bias")) {
      add_to_bias[i] = delta;
    } else if (reader >= 0 && info_[static_cast<size_t>(reader)].role == Role::kPerChannel &&
               model.find_parameter(nodes[static_cast<size_t>(reader)].name + ".running_mean")) {
      // BatchNorm(x + δ) with running mean μ is BatchNorm(x) with running mean μ − δ.
      shift_running_mean[static_cast<size_t>(reader)] = delta;
    } else {
      graph["nodes"][i]["attributes"]["bias"] = true;
      new_bias[i] = delta;
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
      const bool is_bias = from.name == node.name + ".bias";
      const bool is_running_mean = from.name == node.name + ".running_mean";
      if (is_bias && add_to_bias.count(i))
        for (int64_t o = 0; o < value.numel(); ++o)
          value[o] += static_cast<float>(add_to_bias[i][static_cast<size_t>(o)]);
      if (is_running_mean && shift_running_mean.count(i))
        for (int64_t o = 0; o < value.numel(); ++o)
          value[o] -= static_cast<float>(shift_running_mean[i][static_cast<size_t>(o)]);
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
  for (const auto& [i, delta] : new_bias)
    result.parameter(nodes[i].name + ".bias").value = take(as_tensor(delta), 0, keep_out[i]);
  return result;
}

}  // namespace shrink
