#include "shrink/core/json_numbers.hpp"

#include <gtest/gtest.h>

namespace shrink {
namespace {

TEST(JsonNumbers, FloatsPrintAsTyped) {
  const nlohmann::json report = {{"lr", 0.01f},
                                 {"epochs", {{{"lr", 0.1f}, {"loss", 0.25f}}}},
                                 {"mean", {0.286f, 0.353f}}};
  EXPECT_NE(report.dump().find("0.009999999776482582"), std::string::npos);  // the defect
  EXPECT_EQ(with_short_floats(report).dump(),
            R"({"epochs":[{"loss":0.25,"lr":0.1}],"lr":0.01,"mean":[0.286,0.353]})");
}

TEST(JsonNumbers, DoublesAndIntegersKeepEveryDigit) {
  const nlohmann::json report = {{"accuracy", 0.8123456789012345},
                                 {"third", 1.0 / 3.0},
                                 {"bytes", int64_t{1} << 53},
                                 {"name", "x"},
                                 {"nothing", nullptr}};
  EXPECT_EQ(with_short_floats(report), report);
}

}  // namespace
}  // namespace shrink
