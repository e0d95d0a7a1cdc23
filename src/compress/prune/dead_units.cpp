#include "compress/prune/dead_units.hpp"

#include <map>

namespace shrink {

DeadUnits::DeadUnits(const Model& model, const std::vector<Parameter*>& weights)
    : weights_(weights) {
  const ChannelDependencies deps(model);
  std::map<std::string, int> weight_of;
  for (size_t t = 0; t < weights.size(); ++t) weight_of[weights[t]->name] = static_cast<int>(t);
  // The pruned weight of a node, or -1.
  auto pruned_weight = [&](const std::string& node) {
    for (const std::string& p : model.node(node).parameters)
      if (const auto it = weight_of.find(p); it != weight_of.end()) return it->second;
    return -1;
  };

  const std::vector<ChannelUnit>& all = deps.units();
  std::map<int, size_t> index;  // unit of the analysis -> units_
  for (size_t u = 0; u < all.size(); ++u) {
    if (!all[u].removable()) continue;
    Unit unit;
    unit.node = all[u].sources.front().node;
    for (const ChannelSource& source : all[u].sources) {
      const int t = pruned_weight(source.node);
      if (t < 0) unit.fixed_input = true;
      else unit.inputs.push_back({t, deps.output_axis(source.node), source.channel});
    }
    index[static_cast<int>(u)] = units_.size();
    units_.push_back(std::move(unit));
  }
  // Each consumer's weight: the columns (input channels) that read a unit.
  for (const ChannelGroup& group : deps.groups()) {
    for (const std::string& consumer : group.consumers) {
      const int t = pruned_weight(consumer);
      const std::vector<int>& channels = deps.channel_units(model.node(consumer).inputs[0]);
      for (size_t c = 0; c < channels.size(); ++c) {
        const auto it = index.find(channels[c]);
        if (it == index.end()) continue;
        Unit& unit = units_[it->second];
        if (t < 0) unit.fixed_output = true;
        // The input channels lie on the axis the output channels do not (Linear, Conv2d:
        // [out, in, …]; ConvTranspose2d: [in, out, …]).
        else unit.outputs.push_back({t, 1 - deps.output_axis(consumer), static_cast<int64_t>(c)});
      }
    }
  }
}

void DeadUnits::for_each(const Slice& s, const std::function<void(int64_t)>& body) const {
  const Shape& shape = weights_[static_cast<size_t>(s.weight)]->value.shape();
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (static_cast<int>(d) < s.axis) outer *= shape[d];
    if (static_cast<int>(d) > s.axis) inner *= shape[d];
  }
  const int64_t dim = shape[static_cast<size_t>(s.axis)];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < inner; ++k) body((o * dim + s.index) * inner + k);
}

bool DeadUnits::kept(const Slice& s) const {
  const Tensor& mask = weights_[static_cast<size_t>(s.weight)]->mask;
  bool any = false;
  for_each(s, [&](int64_t i) { any = any || mask[i] != 0.0f; });
  return any;
}

bool DeadUnits::dead(const Unit& unit) const {
  auto any_kept = [&](const std::vector<Slice>& slices) {
    for (const Slice& s : slices)
      if (kept(s)) return true;
    return false;
  };
  return !(unit.fixed_input || any_kept(unit.inputs)) ||
         !(unit.fixed_output || any_kept(unit.outputs));
}

nlohmann::json DeadUnits::count() const {
  nlohmann::json counts = nlohmann::json::object();
  for (const Unit& unit : units_) {
    if (!counts.contains(unit.node)) counts[unit.node] = 0;
    if (dead(unit)) counts[unit.node] = counts[unit.node].get<int64_t>() + 1;
  }
  return counts;
}

int64_t DeadUnits::forbid(std::vector<Tensor>& allowed) const {
  int64_t kept_there = 0;
  for (const Unit& unit : units_) {
    if (!dead(unit)) continue;
    for (const auto* slices : {&unit.inputs, &unit.outputs}) {
      for (const Slice& s : *slices) {
        const Tensor& mask = weights_[static_cast<size_t>(s.weight)]->mask;
        Tensor& ok = allowed[static_cast<size_t>(s.weight)];
        for_each(s, [&](int64_t i) {
          kept_there += ok[i] != 0.0f && mask[i] != 0.0f;
          ok[i] = 0.0f;
        });
      }
    }
  }
  return kept_there;
}

int64_t reclaim_dead_units(const DeadUnits& units, const std::vector<Parameter*>& weights,
                           const std::vector<Tensor>& masks_before,
                           const std::function<void()>& select) {
  std::vector<Tensor> plain, allowed;
  for (const Parameter* p : weights) {
    plain.push_back(p->mask);
    allowed.emplace_back(p->value.shape(), 1.0f);
  }
  // Each round clears at least one more kept weight from `allowed`, so the loop ends; a unit
  // that dies because the round before took its last input or output is caught by the next.
  while (units.forbid(allowed) > 0) {
    for (size_t t = 0; t < weights.size(); ++t)
      weights[t]->mask.flat() = masks_before[t].flat().cwiseProduct(allowed[t].flat());
    select();
  }
  int64_t moved = 0;
  for (size_t t = 0; t < weights.size(); ++t)
    for (int64_t i = 0; i < plain[t].numel(); ++i)
      moved += weights[t]->mask[i] != 0.0f && plain[t][i] == 0.0f;
  return moved;
}

}  // namespace shrink
