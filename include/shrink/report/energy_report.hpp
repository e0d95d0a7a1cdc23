#pragma once
// The energy section every report carries (train, compress, eval, distill, sweep rows), and the
// break-even of a compression: after how many inferences the energy spent compressing is paid
// back by the energy each inference saves. Measured and modelled figures are labelled as such.
#include "shrink/report/energy.hpp"
#include "shrink/report/job_energy.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace shrink {

// {"per_inference": {modelled, per layer}, "job": {measured or estimated}, "summary": one line}
nlohmann::json energy_section(const InferenceEnergy& per_inference, const JobEnergy& job);

struct BreakEven {
  std::optional<double> inferences;  // none when the compressed model saves nothing
  std::string explanation;           // one sentence, for the report
};
// cost / (before - after), all in joules.
BreakEven break_even(double cost_joules, double before_joules, double after_joules);

// The energy section of a compress or distill report: the modelled energy per inference before
// and after, the measured or estimated energy of the compression itself (`compression`: the
// passes, fine-tuning, distillation, calibration) and of the whole job, and the break-even:
// {"per_inference_before", "per_inference_after", "saving_per_inference_joules",
//  "saving_fraction", "compression", "job", "break_even_inferences" (null: never),
//  "break_even", "summary"}
nlohmann::json compression_energy_section(const InferenceEnergy& before, const InferenceEnergy& after,
                                          const JobEnergy& compression, const JobEnergy& job);

// "3.2 µJ", "45.6 J", "1.20 kJ"; "12 mg", "3.4 g", "1.2 kg" of CO2; "850k" inferences.
std::string format_joules(double joules);
std::string format_grams(double grams);

}  // namespace shrink
