#include "report_lines.hpp"

#include <cstdio>
#include <string>

namespace shrink::cli {

void print_energy(const nlohmann::json& report) {
  if (!report.contains("energy")) return;
  const nlohmann::json& energy = report["energy"];
  std::printf("energy: %s\n", energy["summary"].get<std::string>().c_str());
  if (energy.contains("break_even"))
    std::printf("break-even: %s\n", energy["break_even"].get<std::string>().c_str());
}

void print_class_impact(const nlohmann::json& report, bool quiet) {
  if (!report.contains("class_impact")) return;
  const nlohmann::json& impact = report["class_impact"];
  std::printf("%lld of %lld predictions changed (%lld became wrong, %lld became right)",
              impact["changed_samples"].get<long long>(), impact["samples"].get<long long>(),
              impact["became_wrong_samples"].get<long long>(), impact["became_right_samples"].get<long long>());
  if (impact.contains("changed_samples_svg"))
    std::printf("; drawn in %s", impact["changed_samples_svg"].get<std::string>().c_str());
  std::printf("\nhurt most:");
  const char* unit = " points";
  for (const auto& hurt : impact["hurt_most"]) {
    std::printf("%s %s %+.1f%s", unit[0] ? "" : ",", hurt["name"].get<std::string>().c_str(),
                100.0 * hurt["change"].get<double>(), unit);
    unit = "";
  }
  std::printf("\n");
  if (quiet) return;
  const auto& classes = impact["classes"];
  for (size_t c = 0; c < classes.size(); ++c)
    std::printf("  %-14s %6.2f%% -> %6.2f%% (%+.2f)\n", classes[c].get<std::string>().c_str(),
                100.0 * impact["accuracy_before"][c].get<double>(),
                100.0 * impact["accuracy_after"][c].get<double>(),
                100.0 * impact["accuracy_change"][c].get<double>());
}

}  // namespace shrink::cli
