#include "shrink/report/axis_ticks.hpp"

#include "shrink/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

namespace shrink {
namespace {

// Of the steps 1, 2, 2.5 and 5 times a power of ten, the one whose ticks inside [low, high]
// number closest to `target` (the larger step on a tie, for fewer labels).
double nice_step(double low, double high, int target) {
  const double raw = (high - low) / std::max(1, target - 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double best = 0.0;
  double best_miss = HUGE_VAL;
  for (double scale : {magnitude / 10.0, magnitude, magnitude * 10.0}) {
    for (double factor : {1.0, 2.0, 2.5, 5.0}) {
      const double step = factor * scale;
      const double count = std::floor(high / step + 1e-9) - std::ceil(low / step - 1e-9) + 1.0;
      const double miss = std::abs(count - target);
      if (miss < best_miss || (miss == best_miss && step > best)) best = step, best_miss = miss;
    }
  }
  return best;
}

// Decimals needed to write multiples of `step` exactly (0.25 -> 2, 50 -> 0).
int decimals_for(double step) {
  for (int d = 0; d < 12; ++d) {
    const double scaled = step * std::pow(10.0, d);
    if (std::abs(scaled - std::round(scaled)) < 1e-6 * std::max(1.0, scaled)) return d;
  }
  return 12;
}

std::string fixed(double value, int decimals) {
  if (std::abs(value) * std::pow(10.0, decimals) < 0.5) value = 0.0;  // never "-0.00"
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

// "%.3g" with k/M/G from a thousand up ("1k", "250k", "2.5M").
std::string significant(double value) {
  double divisor = 1.0;
  const char* suffix = "";
  if (std::abs(value) >= 1e9) divisor = 1e9, suffix = "G";
  else if (std::abs(value) >= 1e6) divisor = 1e6, suffix = "M";
  else if (std::abs(value) >= 1e3) divisor = 1e3, suffix = "k";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.3g%s", value / divisor, suffix);
  return buffer;
}

}  // namespace

AxisTicks linear_ticks(double low, double high, int target) {
  if (!std::isfinite(low) || !std::isfinite(high))
    throw Error::internal("axis range is not finite");
  if (low > high) std::swap(low, high);
  if (low == high) {
    const double pad = low == 0.0 ? 1.0 : std::abs(low) * 0.1;
    low -= pad;
    high += pad;
  }
  AxisTicks ticks;
  ticks.min = low;
  ticks.max = high;
  ticks.step = nice_step(low, high, target);
  const double first = std::ceil(low / ticks.step - 1e-9);
  for (int i = 0;; ++i) {
    double value = (first + i) * ticks.step;
    if (value > high + ticks.step * 1e-9) break;
    if (std::abs(value) < ticks.step * 1e-9) value = 0.0;
    ticks.major.push_back(value);
  }
  return ticks;
}

AxisTicks log_ticks(double low, double high) {
  if (!(low > 0.0) || !(high > 0.0) || !std::isfinite(low) || !std::isfinite(high))
    throw Error::internal("log axis range must be positive and finite");
  if (low > high) std::swap(low, high);
  if (low == high) {
    low /= 2.0;
    high *= 2.0;
  }
  const int first_decade = static_cast<int>(std::floor(std::log10(low)));
  const int last_decade = static_cast<int>(std::ceil(std::log10(high)));
  auto multiples = [&](const std::vector<int>& digits, int every) {
    std::vector<double> values;
    for (int e = first_decade; e <= last_decade; ++e) {
      if (((e % every) + every) % every != 0) continue;
      for (int d : digits) {
        const double v = d * std::pow(10.0, e);
        if (v >= low * (1 - 1e-9) && v <= high * (1 + 1e-9)) values.push_back(v);
      }
    }
    return values;
  };
  AxisTicks ticks;
  ticks.min = low;
  ticks.max = high;
  const int decades = last_decade - first_decade;
  const int every = std::max(1, (decades + 7) / 8);  // at most about eight labelled powers
  ticks.major = multiples({1}, every);
  if (ticks.major.size() >= 3) {
    if (every == 1 && decades <= 8) ticks.minor = multiples({2, 3, 4, 5, 6, 7, 8, 9}, 1);
    return ticks;
  }
  ticks.major = multiples({1, 2, 5}, 1);
  if (ticks.major.size() >= 3) {
    ticks.minor = multiples({3, 4, 6, 7, 8, 9}, 1);
    return ticks;
  }
  ticks.major = multiples({1, 2, 3, 4, 5, 6, 7, 8, 9}, 1);
  if (ticks.major.size() >= 3) return ticks;
  // Less than about two digit steps: a linear scale's ticks read better.
  const AxisTicks linear = linear_ticks(low, high, 5);
  ticks.major = linear.major;
  ticks.step = linear.step;
  return ticks;
}

std::vector<std::string> tick_labels(const AxisTicks& ticks) {
  std::vector<std::string> labels;
  if (ticks.step == 0.0) {
    for (double v : ticks.major) labels.push_back(significant(v));
    return labels;
  }
  double largest = 0.0;
  for (double v : ticks.major) largest = std::max(largest, std::abs(v));
  double divisor = 1.0;
  const char* suffix = "";
  if (largest >= 1e10) divisor = 1e9, suffix = "G";
  else if (largest >= 1e7) divisor = 1e6, suffix = "M";
  else if (largest >= 1e4) divisor = 1e3, suffix = "k";
  const int decimals = decimals_for(ticks.step / divisor);
  for (double v : ticks.major) labels.push_back(v == 0.0 ? fixed(0.0, decimals) : fixed(v / divisor, decimals) + suffix);
  return labels;
}

}  // namespace shrink
