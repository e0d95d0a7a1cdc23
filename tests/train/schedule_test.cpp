#include "shrink/train/schedule.hpp"

#include "shrink/core/error.hpp"

#include <gtest/gtest.h>

namespace shrink {
namespace {

TEST(Schedule, ConstantKeepsTheRate) {
  const auto s = make_schedule("constant", 0.1f, 5);
  for (int e = 0; e < 5; ++e) EXPECT_FLOAT_EQ(s.learning_rate(e), 0.1f);
  EXPECT_FLOAT_EQ(make_schedule("", 0.2f, 5).learning_rate(3), 0.2f);
}

TEST(Schedule, StepDecaysEveryStepSizeEpochs) {
  const auto s = make_schedule("step", 0.1f, 6, {{"step_size", 2}, {"gamma", 0.5}});
  const float expected[] = {0.1f, 0.1f, 0.05f, 0.05f, 0.025f, 0.025f};
  for (int e = 0; e < 6; ++e) EXPECT_FLOAT_EQ(s.learning_rate(e), expected[e]) << e;
}

TEST(Schedule, StepDefaultsAreStepLRs) {
  const auto s = make_schedule("step", 1.0f, 30);
  EXPECT_FLOAT_EQ(s.learning_rate(9), 1.0f);
  EXPECT_FLOAT_EQ(s.learning_rate(10), 0.1f);
  EXPECT_FLOAT_EQ(s.learning_rate(25), 0.01f);
}

TEST(Schedule, CosineFollowsCosineAnnealingLR) {
  // T_max = 4: lr = (1 + cos(pi e / 4)) / 2 * 0.1 -> 0.1, 0.0853553, 0.05, 0.0146447.
  const auto s = make_schedule("cosine", 0.1f, 4);
  EXPECT_FLOAT_EQ(s.learning_rate(0), 0.1f);
  EXPECT_NEAR(s.learning_rate(1), 0.0853553f, 1e-7);
  EXPECT_NEAR(s.learning_rate(2), 0.05f, 1e-7);
  EXPECT_NEAR(s.learning_rate(3), 0.0146447f, 1e-7);
  EXPECT_NEAR(s.learning_rate(4), 0.0f, 1e-9);
}

TEST(Schedule, CosineStopsAtMinLr) {
  const auto s = make_schedule("cosine", 0.1f, 2, {{"min_lr", 0.01}});
  EXPECT_FLOAT_EQ(s.learning_rate(0), 0.1f);
  EXPECT_NEAR(s.learning_rate(1), 0.055f, 1e-7);
  EXPECT_NEAR(s.learning_rate(2), 0.01f, 1e-7);
}

TEST(Schedule, JsonNamesTheSchedule) {
  const auto j = make_schedule("step", 0.1f, 6, {{"step_size", 3}}).to_json();
  EXPECT_EQ(j["name"], "step");
  EXPECT_EQ(j["step_size"], 3);
}

TEST(Schedule, BadInputIsAClearError) {
  try {
    make_schedule("linear", 0.1f, 5);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("constant, step, cosine"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_schedule("step", 0.1f, 5, {{"step_size", 0}}), Error);
  EXPECT_THROW(make_schedule("step", 0.1f, 5, {{"milestones", {1, 2}}}), Error);
  EXPECT_THROW(make_schedule("cosine", 0.1f, 0), Error);
  EXPECT_THROW(make_schedule("constant", -0.1f, 5), Error);
  EXPECT_THROW(make_schedule("constant", 0.1f, 5).learning_rate(-1), Error);
}

}  // namespace
}  // namespace shrink
