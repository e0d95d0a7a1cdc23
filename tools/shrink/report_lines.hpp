#pragma once
// The lines a person reads after train, eval and compress: the energy figures (saying which are
// measured and which modelled) and what a compression changed per class. The full figures are
// in the JSON report (--report); these are its headlines.
#include <nlohmann/json.hpp>

namespace shrink::cli {

// "energy: ..." from a report's energy section, and for compress the break-even line.
void print_energy(const nlohmann::json& report);

// From a report's class_impact section: how many predictions changed and the classes hurt most;
// unless `quiet`, each class's accuracy before and after.
void print_class_impact(const nlohmann::json& report, bool quiet);

}  // namespace shrink::cli
