// The channel dependency analysis: every producer channel (a Conv2d filter, a Linear row) is an
// element; one pass over the nodes in order gives each value the element of each of its channels
// and joins the elements that must go together in a union-find (a residual Add joins channel i
// of its inputs). A union-find class is a unit; producers sharing units form a group. Channels
// that reach something the analysis does not follow are marked with the reason they must stay.
#include "shrink/nn/channel_dependencies.hpp"

#include "shrink/core/error.hpp"

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

namespace shrink {
namespace {

using Json = nlohmann::json;

// Ops that act on each channel alone and keep the channel axis where it is.
const std::set<std::string> kChannelwise = {
    "ReLU",      "LeakyReLU",   "Sigmoid",       "Tanh",          "Hardsigmoid", "Hardswish",
    "Clip",      "Dropout",     "Identity",      "MaxPool2d",     "AvgPool2d",   "GlobalAvgPool",
    "GlobalMaxPool"};
// Ops that only reorder elements in row-major order: a channel keeps its elements together.
const std::set<std::string> kReshapes = {"Flatten", "Reshape", "Squeeze", "Unsqueeze"};
// The numpy-broadcasting binary ops (with a constant operand, or between two activations).
const std::set<std::string> kBroadcasts = {"BroadcastAdd", "Mul", "Sub", "Div"};

int64_t resolve_axis(int64_t axis, size_t rank) {
  return axis < 0 ? axis + static_cast<int64_t>(rank) : axis;
}

}  // namespace

int64_t channel_count(const Shape& sample_shape) {
  return sample_shape.empty() ? 1 : sample_shape[0];
}

std::string ChannelGroup::label() const {
  std::string text;
  for (const auto& p : producers) text += (text.empty() ? "" : " + ") + p;
  return text;
}

class ChannelDependencies::Builder {
 public:
  Builder(const Model& model, ChannelDependencies& out) : model_(model), out_(out) {}

  void run() {
    // Every input's channels stay (a model may have several inputs, as ONNX graphs do).
    for (const ModelInput& input : model_.inputs())
      maps_[input.name] = fresh(-1, channel_count(input.shape), "they are channels of the model input");
    out_.input_name_ = model_.input_name();
    out_.info_.resize(model_.nodes().size());
    for (size_t i = 0; i < model_.nodes().size(); ++i) {
      const Node& node = model_.nodes()[i];
      out_.node_names_.push_back(node.name);
      maps_[node.name] = visit(i, node);
    }
    const std::string& output = model_.output_name();
    fix_all(maps_.at(output), "they are the model's output (node " + output + ")");
    build_units();
    build_groups();
  }

 private:
  // --- elements and their union-find ---------------------------------------------------------
  std::vector<int> fresh(int producer, int64_t count, const std::string& reason = "") {
    std::vector<int> ids;
    for (int64_t c = 0; c < count; ++c) {
      ids.push_back(static_cast<int>(parent_.size()));
      parent_.push_back(ids.back());
      producer_.push_back(producer);
      channel_.push_back(c);
      reasons_.emplace_back();
      if (!reason.empty()) reasons_.back().push_back(reason);
    }
    return ids;
  }

  int find(int e) {
    while (parent_[static_cast<size_t>(e)] != e) {
      parent_[static_cast<size_t>(e)] = parent_[static_cast<size_t>(parent_[static_cast<size_t>(e)])];
      e = parent_[static_cast<size_t>(e)];
    }
    return e;
  }

  void unite(int a, int b) {
    a = find(a);
    b = find(b);
    if (a == b) return;
    if (b < a) std::swap(a, b);  // the older element stays the root: stable unit order
    parent_[static_cast<size_t>(b)] = a;
    auto& into = reasons_[static_cast<size_t>(a)];
    for (auto& r : reasons_[static_cast<size_t>(b)])
      if (std::find(into.begin(), into.end(), r) == into.end()) into.push_back(std::move(r));
    reasons_[static_cast<size_t>(b)].clear();
  }

  void fix_all(const std::vector<int>& map, const std::string& reason) {
    for (int e : map) {
      auto& into = reasons_[static_cast<size_t>(find(e))];
      if (std::find(into.begin(), into.end(), reason) == into.end()) into.push_back(reason);
    }
  }

  // --- one node ------------------------------------------------------------------------------
  std::vector<int> visit(size_t index, const Node& node) {
    const std::string type = node.op->type();
    const Json attributes = node.op->attributes();
    std::vector<const std::vector<int>*> in;
    std::vector<Shape> in_shapes;  // per sample
    for (const auto& name : node.inputs) {
      in.push_back(&maps_.at(name));
      in_shapes.push_back(sample_shape(name));
    }
    const Shape& out_shape = node.output_shape;
    const int64_t channels = channel_count(out_shape);
    NodeInfo& info = out_.info_[index];
    const std::string who = "node " + node.name + " (" + type;
    auto opaque = [&](const std::string& why) {
      const std::string reason = "they reach " + who + why;  // why closes the parenthesis
      for (const auto* map : in) fix_all(*map, reason);
      return fresh(-1, channels, reason);
    };

    if (type == "Conv2d" || type == "ConvTranspose2d") {
      const int64_t groups = attributes.value("groups", int64_t{1});
      if (groups == 1) {
        info.role = Role::kProducer;
        if (type == "ConvTranspose2d") info.out_axis = 1, info.in_axis = 0;
        return fresh(static_cast<int>(index), channels);
      }
      if (type == "Conv2d" && groups == channel_count(in_shapes[0])) {
        // Depthwise: output channel o reads input channel o / multiplier alone.
        info.role = Role::kDepthwise;
        const int64_t multiplier = channels / groups;
        std::vector<int> out;
        for (int64_t o = 0; o < channels; ++o) out.push_back((*in[0])[static_cast<size_t>(o / multiplier)]);
        return out;
      }
      return opaque(", groups " + std::to_string(groups) +
                    "), a grouped convolution whose groups must stay equal in size");
    }
    if (type == "Linear") {
      info.role = Role::kProducer;
      return fresh(static_cast<int>(index), channels);
    }
    if (type == "BatchNorm1d" || type == "BatchNorm2d") {
      info.role = Role::kPerChannel;
      return *in[0];
    }
    if (kChannelwise.count(type)) return *in[0];
    if (type == "Softmax" || type == "LogSoftmax") {
      if (resolve_axis(attributes.value("dim", int64_t{-1}), out_shape.size() + 1) == 1)
        return opaque("), which normalises across channels");
      return *in[0];
    }
    if (type == "Add") {
      for (size_t k = 1; k < in.size(); ++k) unite_channelwise(*in[0], *in[k]);
      return *in[0];
    }
    if (kBroadcasts.count(type)) return broadcast(info, attributes, in, in_shapes, out_shape, opaque);
    if (type == "Concat") {
      const int64_t axis = resolve_axis(attributes.value("axis", int64_t{1}), out_shape.size() + 1);
      if (axis == 1) {
        std::vector<int> out;
        for (const auto* map : in) out.insert(out.end(), map->begin(), map->end());
        return out;
      }
      for (size_t k = 1; k < in.size(); ++k) unite_channelwise(*in[0], *in[k]);
      return *in[0];
    }
    if (kReshapes.count(type)) {
      if (type == "Reshape") info.role = Role::kReshape;
      return reshaped(*in[0], in_shapes[0], out_shape, opaque);
    }
    if (type == "Transpose") {
      const auto perm = attributes.value("perm", std::vector<int64_t>{});
      if (perm.size() > 1 && perm[1] == 1) return *in[0];
      return opaque("), which moves the channel axis");
    }
    if (type == "MatMul" && attributes.contains("in_features") && in_shapes[0].size() >= 2)
      return *in[0];  // multiplies along the last axis: each channel alone
    return opaque("), which the channel analysis does not follow");
  }

  void unite_channelwise(const std::vector<int>& a, const std::vector<int>& b) {
    for (size_t c = 0; c < a.size() && c < b.size(); ++c) unite(a[c], b[c]);
  }

  template <class Opaque>
  std::vector<int> broadcast(NodeInfo& info, const Json& attributes,
                             const std::vector<const std::vector<int>*>& in,
                             const std::vector<Shape>& in_shapes, const Shape& out_shape,
                             Opaque& opaque) {
    const int64_t channels = channel_count(out_shape);
    if (attributes.contains("constant_shape")) {
      if (in_shapes[0] != out_shape) return opaque("), which broadcasts its input along channels");
      const auto constant = attributes["constant_shape"].get<std::vector<int64_t>>();
      const int64_t axis = static_cast<int64_t>(constant.size()) - static_cast<int64_t>(out_shape.size());
      if (axis >= 0 && constant[static_cast<size_t>(axis)] == channels && channels > 1) {
        info.role = Role::kChannelConstant;
        info.constant_axis = static_cast<int>(axis);
      }
      return *in[0];
    }
    const std::vector<int>* full = nullptr;
    for (size_t k = 0; k < in.size(); ++k) {
      if (in_shapes[k].size() != out_shape.size())
        return opaque("), whose inputs differ in rank");
      if (channel_count(in_shapes[k]) == 1 && channels > 1) continue;  // broadcast along channels
      if (full) unite_channelwise(*full, *in[k]);
      else full = in[k];
    }
    return full ? *full : *in[0];
  }

  // Row-major reshapes: with R elements per input channel and R' per output channel, an output
  // channel is part of one input channel (R divides by R') or a run of whole ones (R' by R).
  template <class Opaque>
  std::vector<int> reshaped(const std::vector<int>& in, const Shape& in_shape,
                            const Shape& out_shape, Opaque& opaque) {
    const int64_t in_channels = channel_count(in_shape), out_channels = channel_count(out_shape);
    const int64_t per_in = element_count(in_shape) / in_channels;
    const int64_t per_out = element_count(out_shape) / out_channels;
    std::vector<int> out;
    if (per_in % per_out == 0) {
      const int64_t split = per_in / per_out;  // output channels per input channel
      for (int64_t j = 0; j < out_channels; ++j) out.push_back(in[static_cast<size_t>(j / split)]);
      return out;
    }
    if (per_out % per_in == 0) {
      const int64_t merged = per_out / per_in;  // input channels per output channel
      for (int64_t j = 0; j < out_channels; ++j) {
        for (int64_t t = 1; t < merged; ++t)
          unite(in[static_cast<size_t>(j * merged)], in[static_cast<size_t>(j * merged + t)]);
        out.push_back(in[static_cast<size_t>(j * merged)]);
      }
      return out;
    }
    return opaque("), which splits channels unevenly");
  }

  Shape sample_shape(const std::string& value) const {
    for (const ModelInput& input : model_.inputs())
      if (value == input.name) return input.shape;
    return model_.node(value).output_shape;
  }

  // --- units and groups ----------------------------------------------------------------------
  void build_units() {
    std::vector<int> unit_of_root(parent_.size(), -1);
    unit_of_.assign(parent_.size(), -1);
    for (size_t e = 0; e < parent_.size(); ++e) {
      const auto root = static_cast<size_t>(find(static_cast<int>(e)));
      if (unit_of_root[root] < 0) {
        unit_of_root[root] = static_cast<int>(out_.units_.size());
        out_.units_.emplace_back();
        out_.units_.back().reasons = reasons_[root];
      }
      unit_of_[e] = unit_of_root[root];
      if (producer_[e] >= 0)
        out_.units_[static_cast<size_t>(unit_of_[e])].sources.push_back(
            {model_.nodes()[static_cast<size_t>(producer_[e])].name, channel_[e]});
    }
    auto to_units = [&](const std::vector<int>& map) {
      std::vector<int> units;
      for (int e : map) units.push_back(unit_of_[static_cast<size_t>(e)]);
      return units;
    };
    out_.input_units_ = to_units(maps_.at(model_.input_name()));
    for (const Node& node : model_.nodes()) out_.node_units_.push_back(to_units(maps_.at(node.name)));
  }

  void build_groups() {
    // Producers joined by the units they share, numbered by their first node.
    const auto& nodes = model_.nodes();
    std::vector<int> group_of_node(nodes.size(), -1);
    std::vector<int> link(nodes.size());
    std::iota(link.begin(), link.end(), 0);
    auto root = [&](int n) {
      while (link[static_cast<size_t>(n)] != n) n = link[static_cast<size_t>(n)];
      return n;
    };
    std::map<std::string, int> node_index;
    for (size_t i = 0; i < nodes.size(); ++i) node_index[nodes[i].name] = static_cast<int>(i);
    for (const ChannelUnit& unit : out_.units_)
      for (size_t s = 1; s < unit.sources.size(); ++s) {
        const int a = root(node_index.at(unit.sources[0].node));
        const int b = root(node_index.at(unit.sources[s].node));
        if (a != b) link[static_cast<size_t>(std::max(a, b))] = std::min(a, b);
      }
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (out_.info_[i].role != Role::kProducer) continue;
      const auto r = static_cast<size_t>(root(static_cast<int>(i)));
      if (group_of_node[r] < 0) {
        group_of_node[r] = static_cast<int>(out_.groups_.size());
        out_.groups_.emplace_back();
      }
      group_of_node[i] = group_of_node[r];
      out_.groups_[static_cast<size_t>(group_of_node[i])].producers.push_back(nodes[i].name);
    }
    for (size_t u = 0; u < out_.units_.size(); ++u) {
      ChannelUnit& unit = out_.units_[u];
      if (unit.sources.empty()) continue;
      unit.group = group_of_node[static_cast<size_t>(node_index.at(unit.sources[0].node))];
      ChannelGroup& group = out_.groups_[static_cast<size_t>(unit.group)];
      group.units.push_back(static_cast<int>(u));
      if (unit.removable()) ++group.removable_units;
      for (const auto& r : unit.reasons)
        if (std::find(group.reasons.begin(), group.reasons.end(), r) == group.reasons.end())
          group.reasons.push_back(r);
    }
    // Followers and consumers: the nodes whose output (or producer input) holds a group's units.
    for (size_t i = 0; i < nodes.size(); ++i) {
      const Role role = out_.info_[i].role;
      std::set<int> seen;
      auto note = [&](const std::vector<int>& units, bool consumer) {
        for (int u : units) {
          const int g = out_.units_[static_cast<size_t>(u)].group;
          if (g < 0 || !seen.insert(g).second) continue;
          auto& list = consumer ? out_.groups_[static_cast<size_t>(g)].consumers
                                : out_.groups_[static_cast<size_t>(g)].followers;
          list.push_back(nodes[i].name);
        }
      };
      if (role == Role::kProducer) {
        // A producer fed by a model input other than the first has only fixed channels there.
        const std::string& input = nodes[i].inputs[0];
        const auto producer = node_index.find(input);
        if (input == model_.input_name())
          note(out_.input_units_, true);
        else if (producer != node_index.end())
          note(out_.node_units_[static_cast<size_t>(producer->second)], true);
      } else if (role != Role::kOther && role != Role::kReshape) {
        note(out_.node_units_[i], false);
      }
    }
  }

  const Model& model_;
  ChannelDependencies& out_;
  std::map<std::string, std::vector<int>> maps_;  // value -> element per channel
  std::vector<int> parent_;
  std::vector<int> producer_;  // per element: the producing node's index, or -1
  std::vector<int64_t> channel_;
  std::vector<std::vector<std::string>> reasons_;  // per element; merged into the root
  std::vector<int> unit_of_;
};

ChannelDependencies::ChannelDependencies(const Model& model) {
  require(!model.nodes().empty(), "the model has no nodes to analyse");
  Builder(model, *this).run();
}

const std::vector<int>& ChannelDependencies::channel_units(const std::string& value) const {
  if (value == input_name_) return input_units_;
  for (size_t i = 0; i < node_names_.size(); ++i)
    if (node_names_[i] == value) return node_units_[i];
  throw Error::bad_input("the channel analysis has no value named '" + value + "'");
}

const ChannelDependencies::NodeInfo& ChannelDependencies::info(const std::string& node) const {
  for (size_t i = 0; i < node_names_.size(); ++i)
    if (node_names_[i] == node) return info_[i];
  throw Error::bad_input("the channel analysis has no node named '" + node + "'");
}

ChannelDependencies::Role ChannelDependencies::role(const std::string& node) const {
  return info(node).role;
}

int ChannelDependencies::output_axis(const std::string& producer) const {
  const NodeInfo& i = info(producer);
  if (i.role != Role::kProducer) throw Error::internal("node " + producer + " is not a producer");
  return i.out_axis;
}

}  // namespace shrink
