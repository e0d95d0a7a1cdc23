#pragma once
// The energy a job (training, compressing, evaluating) used, and its CO2: measured from RAPL
// counters (/sys/class/powercap) where the machine exposes them, otherwise estimated from the
// process's CPU time and a power figure, CodeCarbon's convention (TDP-based, 85 W when the
// CPU's is unknown); times a carbon intensity (475 gCO2/kWh by default, CodeCarbon's world
// average). Every result says which method gave it.
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace shrink {

struct EnergySettings {
  // Power of the whole CPU when every logical CPU is busy, in watts (its TDP). A process busy
  // on one logical CPU for one second is charged cpu_watts / logical_cpus joules.
  double cpu_watts = 85.0;
  // Grams of CO2 per kWh of the electricity used.
  double carbon_intensity = 475.0;
  // Where RAPL zones are listed; empty disables measurement (always estimate).
  std::string powercap_dir = "/sys/class/powercap";

  // The defaults, overridden by SHRINK_CPU_WATTS, SHRINK_CARBON_INTENSITY and
  // SHRINK_POWERCAP_DIR when set (a bad value is a bad-input Error naming the variable).
  static EnergySettings from_environment();
  nlohmann::json to_json() const;
};

struct JobEnergy {
  double joules = 0;
  bool measured = false;  // RAPL; otherwise estimated from CPU time
  std::string method;     // one sentence a reader can check
  double cpu_seconds = 0;
  double wall_seconds = 0;
  double co2_grams = 0;
  double carbon_intensity = 0;

  // {"joules", "kwh", "measured", "method", "cpu_seconds", "wall_seconds", "co2_grams",
  //  "carbon_intensity_g_per_kwh"}
  nlohmann::json to_json() const;
};

// Grams of CO2 for `joules` at `grams_per_kwh`.
double co2_grams(double joules, double grams_per_kwh);

// One RAPL counter: a package zone's energy_uj and the value at which it wraps.
struct RaplZone {
  std::string path;  // the zone's directory
  uint64_t max_energy_uj = 0;
};
// The package-level RAPL zones under `powercap_dir` (intel-rapl:N, whose energy_uj is
// readable); empty when there are none or they cannot be read (often they need root).
std::vector<RaplZone> find_rapl_packages(const std::string& powercap_dir);
// Microjoules counted from `before` to `after` of a counter wrapping at `max_energy_uj`.
uint64_t rapl_delta_uj(uint64_t before, uint64_t after, uint64_t max_energy_uj);

// Measures a job's energy from its construction: start one at the beginning of the work,
// read() it at the end (read() may be called several times).
class EnergyMeter {
 public:
  explicit EnergyMeter(EnergySettings settings = EnergySettings::from_environment());
  JobEnergy read() const;
  const EnergySettings& settings() const { return settings_; }

 private:
  std::vector<uint64_t> read_rapl() const;

  EnergySettings settings_;
  std::vector<RaplZone> zones_;
  std::vector<uint64_t> rapl_start_;
  double cpu_start_ = 0;
  std::chrono::steady_clock::time_point wall_start_;
};

// CPU seconds (user + system, every thread) this process has used so far.
double process_cpu_seconds();

}  // namespace shrink
