// Per-class impact of a compression and compression-identified exemplars, on hand-made
// predictions.
#include "shrink/report/class_impact.hpp"

#include "support/errors.hpp"

#include <gtest/gtest.h>

namespace shrink {
namespace {

TEST(ClassImpact, PerClassDeltasAndChangedSamples) {
  //                         0  1  2  3  4  5  6  7
  const std::vector<int32_t> labels = {0, 0, 0, 0, 1, 1, 2, 2};
  const std::vector<int32_t> before = {0, 0, 0, 1, 1, 1, 2, 0};
  const std::vector<int32_t> after = {0, 2, 1, 2, 1, 1, 2, 2};
  const std::vector<float> confidence = {.9f, .6f, .8f, .5f, .9f, .9f, .9f, .7f};
  const ClassImpact impact = class_impact(labels, before, after, confidence, {"a", "b", "c"});
  EXPECT_EQ(impact.count, (std::vector<int64_t>{4, 2, 2}));
  EXPECT_DOUBLE_EQ(impact.accuracy_before[0], 0.75);
  EXPECT_DOUBLE_EQ(impact.accuracy_after[0], 0.25);
  EXPECT_DOUBLE_EQ(impact.accuracy_change(0), -0.5);
  EXPECT_DOUBLE_EQ(impact.accuracy_change(1), 0.0);
  EXPECT_DOUBLE_EQ(impact.accuracy_change(2), 0.5);
  EXPECT_EQ(impact.hurt_most, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(impact.became_wrong, (std::vector<int64_t>{2, 0, 0}));
  EXPECT_EQ(impact.became_right, (std::vector<int64_t>{0, 0, 1}));
  // Changed: 1 and 2 became wrong (2 more confidently), 7 became right, 3 wrong -> wrong.
  ASSERT_EQ(impact.changed.size(), 4u);
  EXPECT_EQ(impact.changed[0].index, 2);
  EXPECT_EQ(impact.changed[1].index, 1);
  EXPECT_EQ(impact.changed[2].index, 7);
  EXPECT_EQ(impact.changed[3].index, 3);
  EXPECT_EQ(impact.changed[0].kind(), "became_wrong");
  EXPECT_EQ(impact.changed[2].kind(), "became_right");
  EXPECT_EQ(impact.changed[3].kind(), "changed_wrong");

  const nlohmann::json json = impact.to_json(2);
  EXPECT_EQ(json["changed_samples"], 4);
  EXPECT_EQ(json["changed"].size(), 2u);
  EXPECT_EQ(json["changed_indices"], (std::vector<int64_t>{1, 2, 3, 7}));
  EXPECT_EQ(json["changed_per_class"], (std::vector<int64_t>{3, 0, 1}));
  EXPECT_EQ(json["hurt_most"][0]["name"], "a");
  EXPECT_DOUBLE_EQ(json["hurt_most"][0]["change"].get<double>(), -0.5);
  EXPECT_EQ(json["became_wrong_samples"], 2);
}

TEST(ClassImpact, SamePredictionsChangeNothing) {
  const std::vector<int32_t> labels = {0, 1, 1};
  const std::vector<int32_t> predictions = {0, 0, 1};
  const ClassImpact impact = class_impact(labels, predictions, predictions, {}, {"x", "y"});
  EXPECT_TRUE(impact.changed.empty());
  EXPECT_DOUBLE_EQ(impact.accuracy_change(1), 0.0);
}

TEST(ClassImpact, MismatchedInputsAreClearErrors) {
  EXPECT_NE(testing::bad_input_message([] { class_impact({0, 1}, {0}, {0, 1}, {}, {"a", "b"}); })
                .find("same split"),
            std::string::npos);
  EXPECT_NE(testing::bad_input_message([] { class_impact({0, 5}, {0, 1}, {0, 1}, {}, {"a", "b"}); })
                .find("label 5"),
            std::string::npos);
}

TEST(ClassImpact, ModalPredictionsAndExemplars) {
  // Three dense and three compressed models over four samples.
  const std::vector<std::vector<int32_t>> dense = {{0, 1, 2, 3}, {0, 1, 2, 3}, {0, 2, 1, 3}};
  const std::vector<std::vector<int32_t>> compressed = {{0, 1, 1, -1}, {0, 2, 1, -1}, {1, 2, 2, 3}};
  EXPECT_EQ(modal_predictions(dense), (std::vector<int32_t>{0, 1, 2, 3}));
  // Sample 3: NaN predictions are ignored, the one vote left wins.
  EXPECT_EQ(modal_predictions(compressed), (std::vector<int32_t>{0, 2, 1, 3}));
  EXPECT_EQ(compression_identified_exemplars(dense, compressed), (std::vector<int64_t>{1, 2}));
  // A tie goes to the smaller class.
  EXPECT_EQ(modal_predictions({{4}, {2}}), (std::vector<int32_t>{2}));
  EXPECT_EQ(modal_predictions({{-1}, {-1}}), (std::vector<int32_t>{-1}));
  EXPECT_NE(testing::bad_input_message([] { compression_identified_exemplars({}, {{1}}); })
                .find("at least one dense"),
            std::string::npos);
}

}  // namespace
}  // namespace shrink
