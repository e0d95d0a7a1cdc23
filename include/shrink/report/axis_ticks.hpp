#pragma once
// Where an axis puts its ticks and what it writes under them: "nice" steps (1, 2, 2.5 or 5
// times a power of ten) on linear axes, powers of ten (with 2 and 5, or every digit, when the
// range is short) on logarithmic ones.
#include <string>
#include <vector>

namespace shrink {

struct AxisTicks {
  double min = 0.0;  // the axis range the ticks were chosen for
  double max = 1.0;
  std::vector<double> major;  // labelled, inside [min, max], ascending
  std::vector<double> minor;  // unlabelled (log axes: the digits between labelled ticks)
  double step = 0.0;          // between major ticks when evenly spaced; 0 otherwise (log)
};

// Ticks for a linear axis over [low, high] (swapped if reversed; widened when empty), about
// `target` of them.
AxisTicks linear_ticks(double low, double high, int target = 6);
// Ticks for a logarithmic axis over [low, high], both > 0: every power of ten (every k-th when
// there are many), with 2 and 5 or every digit between them when fewer than three would show,
// and linear ticks when the range spans less than one digit step.
AxisTicks log_ticks(double low, double high);

// The labels of the major ticks, chosen for the whole axis: the decimals the step needs, the
// same on every label, and k/M/G when the largest tick reaches 10 000 ({0, 50000, 100000} ->
// "0", "50k", "100k"; {0.8, 0.85, 0.9} -> "0.80", "0.85", "0.90"). Log axes print each value
// with up to three significant digits ("200", "1k", "2.5M", "0.001").
std::vector<std::string> tick_labels(const AxisTicks& ticks);

}  // namespace shrink
