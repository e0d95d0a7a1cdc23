#include "shrink/report/job_energy.hpp"

#include "shrink/core/error.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>

namespace shrink {
namespace {

std::optional<uint64_t> read_counter(const std::string& path) {
  std::ifstream in(path);
  uint64_t value = 0;
  if (!(in >> value)) return std::nullopt;
  return value;
}

// A number from the environment variable `name`, or `fallback` when it is unset.
double environment_number(const char* name, double fallback, double low, double high, const char* what) {
  const char* text = std::getenv(name);
  if (!text || !*text) return fallback;
  char* end = nullptr;
  const double value = std::strtod(text, &end);
  require(end && *end == '\0' && std::isfinite(value) && value >= low && value <= high,
          std::string(name) + "=" + text + " is not " + what + "; set it to a number such as " +
              name + "=" + std::to_string(static_cast<int64_t>(fallback)) + ", or unset it");
  return value;
}

int logical_cpus() {
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

std::string number(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

}  // namespace

EnergySettings EnergySettings::from_environment() {
  EnergySettings settings;
  settings.cpu_watts = environment_number("SHRINK_CPU_WATTS", settings.cpu_watts, 0.1, 1e5,
                                          "a CPU power in watts (0.1 to 100000)");
  settings.carbon_intensity =
      environment_number("SHRINK_CARBON_INTENSITY", settings.carbon_intensity, 0, 1e4,
                         "a carbon intensity in gCO2/kWh (0 to 10000)");
  if (const char* dir = std::getenv("SHRINK_POWERCAP_DIR")) settings.powercap_dir = dir;
  return settings;
}

nlohmann::json EnergySettings::to_json() const {
  return {{"cpu_watts", cpu_watts}, {"carbon_intensity_g_per_kwh", carbon_intensity}};
}

nlohmann::json JobEnergy::to_json() const {
  return {{"joules", joules},
          {"kwh", joules / 3.6e6},
          {"measured", measured},
          {"method", method},
          {"cpu_seconds", cpu_seconds},
          {"wall_seconds", wall_seconds},
          {"co2_grams", co2_grams},
          {"carbon_intensity_g_per_kwh", carbon_intensity}};
}

double co2_grams(double joules, double grams_per_kwh) { return joules / 3.6e6 * grams_per_kwh; }

std::vector<RaplZone> find_rapl_packages(const std::string& powercap_dir) {
  namespace fs = std::filesystem;
  std::vector<RaplZone> zones;
  std::error_code error;
  if (powercap_dir.empty() || !fs::is_directory(powercap_dir, error)) return zones;
  // Packages are intel-rapl:N (AMD's kernels use the same name); intel-rapl:N:M are their
  // sub-zones (cores, DRAM), already inside the package's count.
  static const std::regex kPackage(R"(intel-rapl:\d+)");
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(powercap_dir, error)) {
    const std::string name = entry.path().filename().string();
    if (std::regex_match(name, kPackage)) names.push_back(entry.path().string());
  }
  std::sort(names.begin(), names.end());
  for (const std::string& path : names) {
    const auto energy = read_counter(path + "/energy_uj");
    const auto range = read_counter(path + "/max_energy_range_uj");
    if (!energy || !range || *range == 0) return {};  // unreadable (not root): estimate instead
    zones.push_back({path, *range});
  }
  return zones;
}

uint64_t rapl_delta_uj(uint64_t before, uint64_t after, uint64_t max_energy_uj) {
  // The counter runs from 0 to max_energy_range_uj and starts again from 0.
  return after >= before ? after - before : max_energy_uj - before + after;
}

double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

EnergyMeter::EnergyMeter(EnergySettings settings)
    : settings_(std::move(settings)),
      zones_(find_rapl_packages(settings_.powercap_dir)),
      rapl_start_(read_rapl()),
      cpu_start_(process_cpu_seconds()),
      wall_start_(std::chrono::steady_clock::now()) {}

std::vector<uint64_t> EnergyMeter::read_rapl() const {
  std::vector<uint64_t> values;
  for (const RaplZone& zone : zones_) {
    const auto value = read_counter(zone.path + "/energy_uj");
    if (!value) return {};
    values.push_back(*value);
  }
  return values;
}

JobEnergy EnergyMeter::read() const {
  JobEnergy energy;
  energy.cpu_seconds = process_cpu_seconds() - cpu_start_;
  energy.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start_).count();
  energy.carbon_intensity = settings_.carbon_intensity;
  const std::vector<uint64_t> now = read_rapl();
  if (!zones_.empty() && now.size() == zones_.size() && rapl_start_.size() == zones_.size()) {
    uint64_t microjoules = 0;
    for (size_t i = 0; i < zones_.size(); ++i)
      microjoules += rapl_delta_uj(rapl_start_[i], now[i], zones_[i].max_energy_uj);
    energy.joules = static_cast<double>(microjoules) * 1e-6;
    energy.measured = true;
    energy.method = "measured: RAPL energy counters of " + std::to_string(zones_.size()) +
                    " CPU package(s) over the job's " + number("%.2f", energy.wall_seconds) +
                    " s (the whole package, other processes included)";
  } else {
    const int cpus = logical_cpus();
    energy.joules = energy.cpu_seconds * settings_.cpu_watts / cpus;
    energy.method = "estimated: " + number("%.2f", energy.cpu_seconds) + " CPU seconds x " +
                    number("%g", settings_.cpu_watts) + " W / " + std::to_string(cpus) +
                    " logical CPUs (no readable RAPL counters; CodeCarbon's TDP convention, "
                    "set SHRINK_CPU_WATTS to this CPU's TDP)";
  }
  energy.co2_grams = co2_grams(energy.joules, energy.carbon_intensity);
  return energy;
}

}  // namespace shrink
