// A job's energy: RAPL counters (a fake powercap tree, wrap-around included) when readable,
// otherwise CPU time x power; CO2 from the carbon intensity; settings from the environment.
#include "shrink/report/job_energy.hpp"

#include "support/errors.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace shrink {
namespace {

void write(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text << "\n";
}

double burn_cpu(double seconds) {
  const double start = process_cpu_seconds();
  volatile double x = 0;
  while (process_cpu_seconds() - start < seconds)
    for (int i = 0; i < 100000; ++i) x = x + std::sqrt(static_cast<double>(i));
  return x;
}

TEST(JobEnergy, Co2FromJoules) {
  EXPECT_DOUBLE_EQ(co2_grams(3.6e6, 475.0), 475.0);  // one kWh
  EXPECT_DOUBLE_EQ(co2_grams(3.6e3, 100.0), 0.1);
}

TEST(JobEnergy, RaplCounterWrapsAround) {
  EXPECT_EQ(rapl_delta_uj(100, 250, 1000), 150u);
  EXPECT_EQ(rapl_delta_uj(900, 50, 1000), 150u);
}

TEST(JobEnergy, MeasuresPackagesFromRapl) {
  testing::TempDir dir;
  const auto root = dir.path();
  write(root / "intel-rapl:0/energy_uj", "900000000");
  write(root / "intel-rapl:0/max_energy_range_uj", "1000000000");
  write(root / "intel-rapl:1/energy_uj", "5000000");
  write(root / "intel-rapl:1/max_energy_range_uj", "1000000000");
  write(root / "intel-rapl:0:0/energy_uj", "1");  // a sub-zone: inside its package's count
  write(root / "intel-rapl:0:0/max_energy_range_uj", "1000");
  ASSERT_EQ(find_rapl_packages(root.string()).size(), 2u);

  EnergySettings settings;
  settings.powercap_dir = root.string();
  settings.carbon_intensity = 100.0;
  const EnergyMeter meter(settings);
  write(root / "intel-rapl:0/energy_uj", "20000000");  // wrapped: 100 J + 20 J
  write(root / "intel-rapl:1/energy_uj", "35000000");  // 30 J
  const JobEnergy energy = meter.read();
  EXPECT_TRUE(energy.measured);
  EXPECT_DOUBLE_EQ(energy.joules, 150.0);
  EXPECT_DOUBLE_EQ(energy.co2_grams, 150.0 / 3.6e6 * 100.0);
  EXPECT_NE(energy.method.find("measured: RAPL"), std::string::npos) << energy.method;
  EXPECT_EQ(energy.to_json()["measured"], true);
}

TEST(JobEnergy, UnreadableRaplMeansEstimate) {
  testing::TempDir dir;
  write(dir.path() / "intel-rapl:0/max_energy_range_uj", "1000");  // energy_uj missing
  EXPECT_TRUE(find_rapl_packages(dir.path().string()).empty());
  EXPECT_TRUE(find_rapl_packages(dir.file("absent")).empty());
}

TEST(JobEnergy, EstimatesFromCpuTime) {
  EnergySettings settings;
  settings.powercap_dir = "";
  settings.cpu_watts = 100.0;
  const EnergyMeter meter(settings);
  burn_cpu(0.05);
  const JobEnergy energy = meter.read();
  EXPECT_FALSE(energy.measured);
  EXPECT_GE(energy.cpu_seconds, 0.05);
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  EXPECT_NEAR(energy.joules, energy.cpu_seconds * 100.0 / cpus, 1e-9);
  EXPECT_NE(energy.method.find("estimated"), std::string::npos);
  EXPECT_NE(energy.method.find("100 W"), std::string::npos) << energy.method;
  EXPECT_DOUBLE_EQ(energy.co2_grams, co2_grams(energy.joules, 475.0));
}

TEST(JobEnergy, SettingsFromTheEnvironment) {
  setenv("SHRINK_CPU_WATTS", "65", 1);
  setenv("SHRINK_CARBON_INTENSITY", "56", 1);
  const EnergySettings settings = EnergySettings::from_environment();
  EXPECT_DOUBLE_EQ(settings.cpu_watts, 65.0);
  EXPECT_DOUBLE_EQ(settings.carbon_intensity, 56.0);
  setenv("SHRINK_CPU_WATTS", "lots", 1);
  const std::string message = testing::bad_input_message([] { EnergySettings::from_environment(); });
  EXPECT_NE(message.find("SHRINK_CPU_WATTS=lots"), std::string::npos) << message;
  unsetenv("SHRINK_CPU_WATTS");
  unsetenv("SHRINK_CARBON_INTENSITY");
  EXPECT_DOUBLE_EQ(EnergySettings::from_environment().cpu_watts, 85.0);
}

}  // namespace
}  // namespace shrink
