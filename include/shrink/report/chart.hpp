#pragma once
// Scatter and line charts drawn as self-contained SVG: axes with nice or logarithmic ticks,
// grid, axis labels, a title, a legend, and optionally the Pareto front of every point shown.
//
//   Chart chart;
//   chart.x = {.label = "file bytes", .log = true};
//   chart.y = {.label = "accuracy"};
//   chart.series.push_back({.label = "magnitude", .x = bytes, .y = accuracy});
//   chart.pareto = ParetoFront{};  // smaller x and larger y are better
//   write_chart(chart, "plot.svg");
#include "shrink/report/pareto.hpp"

#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace shrink {

struct ChartAxis {
  std::string label;
  bool log = false;
  // Fixed bounds; NaN takes them from the data (with a small margin).
  double min = std::numeric_limits<double>::quiet_NaN();
  double max = std::numeric_limits<double>::quiet_NaN();
  // Tick labels; empty uses tick_labels() (k/M/G, decimals from the step).
  std::function<std::string(double)> format;
};

enum class Marker { Auto, Circle, Square, Triangle, Diamond, None };

struct ChartSeries {
  std::string label;  // legend entry; an empty label keeps the series out of the legend
  std::vector<double> x;
  std::vector<double> y;
  bool line = false;  // join the points in the order given (a non-finite point breaks the line)
  Marker marker = Marker::Auto;  // Auto: a shape per series, None: no markers
  std::string color;             // any SVG colour; empty: the next colour of the palette
  bool dashed = false;
  std::vector<std::string> tooltips;  // optional, one per point, shown on hover in browsers
};

struct ParetoFront {
  Better x = Better::Lower;
  Better y = Better::Higher;
  std::string label = "Pareto front";
};

struct Chart {
  std::string title;
  ChartAxis x;
  ChartAxis y;
  std::vector<ChartSeries> series;
  // Draws the front over the points of every series as a staircase (the boundary of the region
  // they dominate) and rings the points on it.
  std::optional<ParetoFront> pareto;
  double width = 640;
  double height = 420;  // grows when the legend needs more room
};

// The chart as an SVG document. Throws a bad-input Error when a log axis gets a value <= 0
// (naming the series and point), or when a series' x and y differ in length.
std::string render_chart(const Chart& chart);
// Renders and writes it atomically (a temporary file renamed over `path`).
void write_chart(const Chart& chart, const std::string& path);

// The palette series take their colours from, in order: Okabe and Ito's colour-blind-safe
// colours (without yellow, which vanishes on white).
const std::vector<std::string>& chart_palette();

}  // namespace shrink
