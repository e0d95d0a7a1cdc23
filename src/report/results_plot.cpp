#include "shrink/report/results_plot.hpp"

#include "shrink/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

namespace shrink {
namespace {

const nlohmann::json* find_path(const nlohmann::json& root, const std::string& path) {
  const nlohmann::json* at = &root;
  size_t from = 0;
  while (from <= path.size()) {
    const size_t dot = std::min(path.find('.', from), path.size());
    const std::string part = path.substr(from, dot - from);
    if (at->is_array()) {  // "latency.0.after.median_ms": a list element by its position
      if (part.empty() || part.find_first_not_of("0123456789") != std::string::npos) return nullptr;
      const size_t index = std::stoul(part);
      if (index >= at->size()) return nullptr;
      at = &(*at)[index];
    } else {
      if (!at->is_object() || !at->contains(part)) return nullptr;
      at = &(*at)[part];
    }
    from = dot + 1;
  }
  return at;
}

// The short names of the figures a compress report gives after compressing.
const std::map<std::string, std::string>& aliases() {
  static const std::map<std::string, std::string> kAliases = {
      {"accuracy", "accuracy_after"},
      {"file_bytes", "file_bytes_after"},
      {"macs", "macs_after"},
      {"loss", "loss_after"},
      {"energy", "energy.per_inference_after.joules"},
      {"latency", "latency.0.after.median_ms"},
  };
  return kAliases;
}

const nlohmann::json* lookup(const nlohmann::json& line, const std::string& field) {
  if (line.contains("point") && line["point"].contains(field)) return &line["point"][field];
  if (line.contains("report")) {
    const nlohmann::json& report = line["report"];
    const auto alias = aliases().find(field);
    if (alias != aliases().end())
      if (const nlohmann::json* v = find_path(report, alias->second)) return v;
    if (const nlohmann::json* v = find_path(report, field)) return v;
  }
  return find_path(line, field);
}

std::string format_label(const nlohmann::json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

}  // namespace

double result_value(const nlohmann::json& line, const std::string& field) {
  const nlohmann::json* v = lookup(line, field);
  return v && v->is_number() ? v->get<double>() : std::numeric_limits<double>::quiet_NaN();
}

std::string result_label(const nlohmann::json& line, const std::string& field) {
  const nlohmann::json* v = lookup(line, field);
  return v ? format_label(*v) : std::string();
}

Chart results_chart(const std::vector<nlohmann::json>& lines, const ResultsPlot& plot) {
  Chart chart;
  chart.title = plot.title;
  chart.x.label = plot.x;
  chart.x.log = plot.log_x;
  chart.y.label = plot.y;
  chart.y.log = plot.log_y;
  if (plot.pareto) chart.pareto = ParetoFront{};

  // Series in order of first appearance of their colour value.
  std::vector<std::string> order;
  std::map<std::string, ChartSeries> series;
  int64_t usable = 0;
  for (const nlohmann::json& line : lines) {
    if (line.value("status", "ok") != "ok") continue;
    const double x = result_value(line, plot.x), y = result_value(line, plot.y);
    if (!std::isfinite(x) || !std::isfinite(y)) continue;
    ++usable;
    const std::string group = plot.color.empty() ? "" : plot.color + " " + result_label(line, plot.color);
    auto [it, added] = series.try_emplace(group);
    if (added) {
      order.push_back(group);
      it->second.label = group;
      it->second.line = plot.line;
    }
    it->second.x.push_back(x);
    it->second.y.push_back(y);
    it->second.tooltips.push_back(line.contains("point") ? line["point"].dump() : line.value("key", ""));
  }
  if (usable == 0) {
    std::string fields;
    if (!lines.empty() && lines.front().contains("report"))
      for (const auto& [name, value] : lines.front()["report"].items())
        if (value.is_number()) fields += (fields.empty() ? "" : ", ") + name;
    throw Error::bad_input("no successful result has numbers for both " + plot.x + " and " + plot.y +
                           (fields.empty() ? std::string(" (no successful results at all)")
                                           : "; numeric report fields: " + fields +
                                                 ", and the point's options"));
  }
  for (const std::string& group : order) {
    ChartSeries s = std::move(series.at(group));
    if (plot.line) {  // join in order of x
      std::vector<size_t> by_x(s.x.size());
      std::iota(by_x.begin(), by_x.end(), 0);
      std::stable_sort(by_x.begin(), by_x.end(), [&](size_t a, size_t b) { return s.x[a] < s.x[b]; });
      ChartSeries sorted = s;
      for (size_t i = 0; i < by_x.size(); ++i) {
        sorted.x[i] = s.x[by_x[i]];
        sorted.y[i] = s.y[by_x[i]];
        sorted.tooltips[i] = s.tooltips[by_x[i]];
      }
      s = std::move(sorted);
    }
    chart.series.push_back(std::move(s));
  }
  return chart;
}

}  // namespace shrink
