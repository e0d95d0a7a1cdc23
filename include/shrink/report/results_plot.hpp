#pragma once
// A chart of sweep results (JSON lines): one metric against another, a series per value of a
// third, with the Pareto front — accuracy against size, speed or energy at a glance.
#include "shrink/report/chart.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace shrink {

struct ResultsPlot {
  std::string x = "file_bytes";
  std::string y = "accuracy";
  std::string color;  // a series per distinct value of this field; empty: one series
  bool log_x = false;
  bool log_y = false;
  bool line = false;    // join each series' points in order of x
  bool pareto = true;   // smaller x and larger y are better
  std::string title;
};

// The value of `field` in one result line, or NaN when it has none: first the point's options
// ("sparsity", "seed"), then the report with short names for the figures after compressing
// ("accuracy" -> accuracy_after, "file_bytes" -> file_bytes_after, "macs" -> macs_after,
// "energy" -> joules per inference after, "latency" -> the median milliseconds after at the
// first timed batch size, "sparsity" -> the measured sparsity when the point has none), then any
// report field or a dotted path into it ("energy.compression.joules", "latency.1.speedup": a
// number indexes a list),
// then the line itself ("seconds"). Text values are not numbers: NaN.
double result_value(const nlohmann::json& line, const std::string& field);
// The same lookup for labels: the value as text ("0.9", "magnitude"), empty when absent.
std::string result_label(const nlohmann::json& line, const std::string& field);

// The chart of the successful lines (failed ones are left out). Throws a bad-input Error when no
// line has a number for `x` or `y`, naming the fields a line does have.
Chart results_chart(const std::vector<nlohmann::json>& lines, const ResultsPlot& plot);

}  // namespace shrink
