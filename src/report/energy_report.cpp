#include "shrink/report/energy_report.hpp"

#include "shrink/report/summary.hpp"

#include <cmath>
#include <cstdio>

namespace shrink {
namespace {

std::string scaled(double value, const char* const* units, int count, double step, const char* format) {
  int unit = 0;
  double v = value;
  // Start at the smallest unit and go up while the number reaches the next unit.
  while (unit + 1 < count && std::abs(v) >= step) {
    v /= step;
    ++unit;
  }
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, format, v, units[unit]);
  return buffer;
}

std::string job_kind(const JobEnergy& job) { return job.measured ? "measured" : "estimated"; }

}  // namespace

std::string format_joules(double joules) {
  static const char* const kUnits[] = {"pJ", "nJ", "µJ", "mJ", "J", "kJ", "MJ", "GJ"};
  return scaled(joules * 1e12, kUnits, 8, 1000.0, "%.3g %s");
}

std::string format_grams(double grams) {
  static const char* const kUnits[] = {"µg", "mg", "g", "kg", "t"};
  return scaled(grams * 1e6, kUnits, 5, 1000.0, "%.3g %s");
}

nlohmann::json energy_section(const InferenceEnergy& per_inference, const JobEnergy& job) {
  return {{"per_inference", per_inference.to_json()},
          {"job", job.to_json()},
          {"summary", format_joules(per_inference.joules()) + " per inference (modelled); this job " +
                          format_joules(job.joules) + " (" + job_kind(job) + "), " +
                          format_grams(job.co2_grams) + " CO2"}};
}

BreakEven break_even(double cost_joules, double before_joules, double after_joules) {
  const double saving = before_joules - after_joules;
  BreakEven result;
  if (!(saving > 0.0)) {
    result.explanation = "never: the compressed model does not use less modelled energy per inference";
    return result;
  }
  result.inferences = cost_joules / saving;
  result.explanation = "after " + format_count(*result.inferences) + " inferences the " +
                       format_joules(cost_joules) + " spent compressing are repaid by the " +
                       format_joules(saving) + " each inference saves";
  return result;
}

nlohmann::json compression_energy_section(const InferenceEnergy& before, const InferenceEnergy& after,
                                          const JobEnergy& compression, const JobEnergy& job) {
  const BreakEven even = break_even(compression.joules, before.joules(), after.joules());
  const double saving = before.joules() - after.joules();
  nlohmann::json section = {
      {"per_inference_before", before.to_json()},
      {"per_inference_after", after.to_json()},
      {"saving_per_inference_joules", saving},
      {"saving_fraction", before.joules() > 0 ? saving / before.joules() : 0.0},
      {"compression", compression.to_json()},
      {"job", job.to_json()},
      {"break_even_inferences", even.inferences ? nlohmann::json(*even.inferences) : nlohmann::json()},
      {"break_even", even.explanation + (compression.measured ? " (a measured" : " (an estimated") +
                         " cost against a modelled saving)"}};
  section["summary"] = format_joules(before.joules()) + " -> " + format_joules(after.joules()) +
                       " per inference (modelled); compressing " + format_joules(compression.joules) +
                       " (" + job_kind(compression) + "), " + format_grams(compression.co2_grams) +
                       " CO2; break-even " +
                       (even.inferences ? "after " + format_count(*even.inferences) + " inferences"
                                        : std::string("never"));
  return section;
}

}  // namespace shrink
