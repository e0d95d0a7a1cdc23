#include "shrink/report/comparison.hpp"

#include "shrink/nn/channel_dependencies.hpp"
#include "shrink/report/summary.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace shrink {
namespace {

struct NodeFigures {
  int64_t channels = 0, parameters = 0, macs = 0;
};

NodeFigures figures(const Model& model, const Node& node) {
  NodeFigures f;
  f.channels = channel_count(node.output_shape);
  f.macs = node.op->macs(model.input_shapes(node, 1));
  for (const auto& name : node.parameters) {
    const Parameter& p = model.parameter(name);
    if (p.trainable) f.parameters += p.value.numel();
  }
  return f;
}

std::string change(int64_t before, int64_t after) {
  if (before == after) return format_count(static_cast<double>(before));
  return format_count(static_cast<double>(before)) + " -> " + format_count(static_cast<double>(after));
}

}  // namespace

bool ModelComparison::shapes_changed() const {
  for (const auto& l : layers)
    if (l.channels_before != l.channels_after || l.parameters_before != l.parameters_after) return true;
  return false;
}

ModelComparison compare_models(const Model& before, const Model& after) {
  ModelComparison c;
  auto add = [&](const Node& node, const Model* old_model, const Model* new_model) {
    LayerChange l;
    l.name = node.name;
    l.type = node.op->type();
    NodeFigures b, a;
    if (old_model) b = figures(*old_model, old_model->node(node.name));
    if (new_model) a = figures(*new_model, new_model->node(node.name));
    if (b.parameters == 0 && a.parameters == 0 && b.macs == 0 && a.macs == 0) return;
    l.channels_before = b.channels, l.channels_after = a.channels;
    l.parameters_before = b.parameters, l.parameters_after = a.parameters;
    l.macs_before = b.macs, l.macs_after = a.macs;
    c.layers.push_back(l);
  };
  for (const Node& node : before.nodes()) {
    const bool kept = std::any_of(after.nodes().begin(), after.nodes().end(),
                                  [&](const Node& n) { return n.name == node.name; });
    add(node, &before, kept ? &after : nullptr);
  }
  for (const Node& node : after.nodes()) {
    const bool old = std::any_of(before.nodes().begin(), before.nodes().end(),
                                 [&](const Node& n) { return n.name == node.name; });
    if (!old) add(node, nullptr, &after);
  }
  c.parameters_before = before.parameter_count();
  c.parameters_after = after.parameter_count();
  c.macs_before = before.macs();
  c.macs_after = after.macs();
  return c;
}

nlohmann::json ModelComparison::to_json() const {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& l : layers)
    rows.push_back({{"name", l.name},
                    {"type", l.type},
                    {"channels_before", l.channels_before},
                    {"channels_after", l.channels_after},
                    {"parameters_before", l.parameters_before},
                    {"parameters_after", l.parameters_after},
                    {"macs_before", l.macs_before},
                    {"macs_after", l.macs_after}});
  return {{"layers", rows},
          {"parameters_before", parameters_before},
          {"parameters_after", parameters_after},
          {"macs_before", macs_before},
          {"macs_after", macs_after}};
}

std::string ModelComparison::to_table() const {
  std::ostringstream out;
  char line[256];
  std::snprintf(line, sizeof line, "%-22s %-14s %-12s %-18s %-18s\n", "layer", "type", "channels",
                "params", "MACs");
  out << line;
  for (const auto& l : layers) {
    const std::string channels = l.channels_before == l.channels_after
                                     ? std::to_string(l.channels_before)
                                     : std::to_string(l.channels_before) + " -> " +
                                           std::to_string(l.channels_after);
    std::snprintf(line, sizeof line, "%-22s %-14s %-12s %-18s %-18s\n", l.name.c_str(),
                  l.type.c_str(), channels.c_str(),
                  change(l.parameters_before, l.parameters_after).c_str(),
                  change(l.macs_before, l.macs_after).c_str());
    out << line;
  }
  std::snprintf(line, sizeof line, "%-22s %-14s %-12s %-18s %-18s\n", "total", "", "",
                change(parameters_before, parameters_after).c_str(),
                change(macs_before, macs_after).c_str());
  out << line;
  return out.str();
}

}  // namespace shrink
