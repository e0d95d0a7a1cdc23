// Tick positions and labels of linear and logarithmic axes.
#include "shrink/report/axis_ticks.hpp"

#include <gtest/gtest.h>

namespace shrink {
namespace {

std::vector<std::string> labels(const AxisTicks& ticks) { return tick_labels(ticks); }

TEST(AxisTicks, LinearStepsAreNice) {
  const AxisTicks unit = linear_ticks(0.0, 1.0);
  EXPECT_DOUBLE_EQ(unit.step, 0.2);
  EXPECT_EQ(labels(unit), (std::vector<std::string>{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"}));

  const AxisTicks accuracy = linear_ticks(0.8312, 0.8957);
  EXPECT_DOUBLE_EQ(accuracy.step, 0.01);
  EXPECT_EQ(accuracy.major.front(), 0.84);
  EXPECT_NEAR(accuracy.major.back(), 0.89, 1e-12);
  for (double v : accuracy.major) {
    EXPECT_GE(v, 0.8312);
    EXPECT_LE(v, 0.8957);
  }
  EXPECT_EQ(labels(accuracy).front(), "0.84");

  const AxisTicks quarter = linear_ticks(0.0, 1.2, 6);  // raw step 0.24 -> 0.25
  EXPECT_DOUBLE_EQ(quarter.step, 0.25);
  EXPECT_EQ(labels(quarter)[1], "0.25");

  const AxisTicks negative = linear_ticks(-3.0, 7.0);
  EXPECT_EQ(labels(negative), (std::vector<std::string>{"-2", "0", "2", "4", "6"}));
}

TEST(AxisTicks, LinearHandlesEmptyAndReversedRanges) {
  const AxisTicks same = linear_ticks(5.0, 5.0);
  EXPECT_LT(same.min, 5.0);
  EXPECT_GT(same.max, 5.0);
  EXPECT_FALSE(same.major.empty());
  const AxisTicks zero = linear_ticks(0.0, 0.0);
  EXPECT_DOUBLE_EQ(zero.min, -1.0);
  EXPECT_DOUBLE_EQ(zero.max, 1.0);
  const AxisTicks reversed = linear_ticks(10.0, 0.0);
  EXPECT_DOUBLE_EQ(reversed.min, 0.0);
  EXPECT_DOUBLE_EQ(reversed.max, 10.0);
}

TEST(AxisTicks, LargeValuesUseThousandsAndMillions) {
  EXPECT_EQ(labels(linear_ticks(0, 1000000)),
            (std::vector<std::string>{"0", "200k", "400k", "600k", "800k", "1000k"}));
  EXPECT_EQ(labels(linear_ticks(0, 25e6)),
            (std::vector<std::string>{"0", "5M", "10M", "15M", "20M", "25M"}));
  EXPECT_EQ(labels(linear_ticks(0, 5000)), (std::vector<std::string>{"0", "1000", "2000", "3000", "4000", "5000"}));
}

TEST(AxisTicks, LogAxesTickPowersOfTen) {
  const AxisTicks wide = log_ticks(3e3, 2e6);
  EXPECT_EQ(labels(wide), (std::vector<std::string>{"10k", "100k", "1M"}));
  EXPECT_EQ(wide.step, 0.0);
  // The digits between the powers are minor ticks.
  EXPECT_NE(std::find(wide.minor.begin(), wide.minor.end(), 20000.0), wide.minor.end());
  for (double v : wide.minor) {
    EXPECT_GE(v, 3e3);
    EXPECT_LE(v, 2e6);
  }

  const AxisTicks narrow = log_ticks(15.0, 900.0);  // 1-2-5 when only two powers show
  EXPECT_EQ(labels(narrow), (std::vector<std::string>{"20", "50", "100", "200", "500"}));

  const AxisTicks tiny = log_ticks(0.0012, 0.004);  // every digit
  EXPECT_EQ(labels(tiny), (std::vector<std::string>{"0.002", "0.003", "0.004"}));

  const AxisTicks many = log_ticks(1e-3, 1e20);  // at most about eight labelled powers
  EXPECT_LE(many.major.size(), 9u);
  EXPECT_GE(many.major.size(), 5u);

  const AxisTicks flat = log_ticks(210, 240);  // under a digit step: linear ticks
  EXPECT_GE(flat.major.size(), 3u);
  EXPECT_EQ(labels(flat).front(), "210");
}

}  // namespace
}  // namespace shrink
