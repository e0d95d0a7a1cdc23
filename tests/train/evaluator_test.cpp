#include "shrink/train/evaluator.hpp"

#include "shrink/core/error.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace shrink {
namespace {

// logits = W x with W = [[1, 0], [0, 1], [0, 0]]: (a, b) -> (a, b, 0).
Model two_feature_model() {
  Model model;
  model.set_input("x", {2});
  model.add_node("fc", make_op("Linear", {{"out_features", 3}, {"bias", false}}));
  model.parameter("fc.weight").value = Tensor({3, 2}, {1, 0, 0, 1, 0, 0});
  return model;
}

TEST(Evaluate, CountsTopOneTopFivePerClassAndLoss) {
  Model model = two_feature_model();
  const std::vector<float> x = {2, 1,     // (2, 1, 0) label 0: right
                                0, 3,     // (0, 3, 0) label 1: right
                                -1, -2,   // (-1, -2, 0) label 2: right
                                1, 3,     // (1, 3, 0) label 0: wrong (predicts 1)
                                1, 1};    // (1, 1, 0) label 1: a tie goes to the first index, wrong
  const std::vector<int32_t> labels = {0, 1, 2, 0, 1};
  const Dataset data = Dataset::from_floats("toy", {2}, x, labels, 3);

  const Evaluation e = evaluate(model, data, /*batch_size=*/2);  // batches of 2, 2, 1
  EXPECT_EQ(e.samples, 5);
  EXPECT_DOUBLE_EQ(e.accuracy, 0.6);
  EXPECT_DOUBLE_EQ(e.top5_accuracy, 1.0);  // only 3 classes
  EXPECT_EQ(e.per_class_count, (std::vector<int64_t>{2, 2, 1}));
  EXPECT_EQ(e.per_class_accuracy, (std::vector<double>{0.5, 0.5, 1.0}));

  double expected_loss = 0.0;
  for (size_t i = 0; i < labels.size(); ++i) {
    const double logits[3] = {x[2 * i], x[2 * i + 1], 0.0};
    double sum = 0.0;
    for (double l : logits) sum += std::exp(l);
    expected_loss += std::log(sum) - logits[labels[i]];
  }
  EXPECT_NEAR(e.loss, expected_loss / 5.0, 1e-6);
  EXPECT_GT(e.samples_per_s, 0.0);

  // Per sample, in dataset order across batches: the top-1 class and its softmax probability.
  EXPECT_EQ(e.predictions, (std::vector<int32_t>{0, 1, 2, 1, 0}));
  ASSERT_EQ(e.confidences.size(), 5u);
  for (size_t i = 0; i < labels.size(); ++i) {
    const double logits[3] = {x[2 * i], x[2 * i + 1], 0.0};
    double sum = 0.0;
    for (double l : logits) sum += std::exp(l);
    EXPECT_NEAR(e.confidences[i], std::exp(logits[e.predictions[i]]) / sum, 1e-6) << i;
  }

  const nlohmann::json j = e.to_json();
  EXPECT_DOUBLE_EQ(j["accuracy"].get<double>(), 0.6);
  EXPECT_EQ(j["per_class_accuracy"], nlohmann::json({0.5, 0.5, 1.0}));
  EXPECT_EQ(j["per_class_count"], nlohmann::json({2, 2, 1}));
  EXPECT_EQ(j["classes"][2], "2");
}

TEST(Evaluate, TopFiveMeansTheFiveLargestLogits) {
  // One input fixed at 1: logits are the weights 7, 6, 5, 4, 3, 2, 1.
  Model model;
  model.set_input("x", {1});
  model.add_node("fc", make_op("Linear", {{"out_features", 7}, {"bias", false}}));
  model.parameter("fc.weight").value = Tensor({7, 1}, {7, 6, 5, 4, 3, 2, 1});
  const Dataset data = Dataset::from_floats("ranks", {1}, {1, 1, 1}, {0, 4, 5}, 7);
  const Evaluation e = evaluate(model, data);
  EXPECT_DOUBLE_EQ(e.accuracy, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(e.top5_accuracy, 2.0 / 3.0);
  EXPECT_EQ(e.per_class_count[3], 0);
  EXPECT_EQ(e.per_class_accuracy[3], 0.0);
}

TEST(Evaluate, NanLogitsPredictNoClass) {
  Model model = two_feature_model();
  model.parameter("fc.weight").value.data()[0] = std::nanf("");
  const Dataset data = Dataset::from_floats("toy", {2}, {1, 0}, {0}, 3);
  const Evaluation e = evaluate(model, data);
  EXPECT_EQ(e.predictions, (std::vector<int32_t>{-1}));
  EXPECT_EQ(e.confidences, (std::vector<float>{0.0f}));
}

TEST(Evaluate, DoesNotTouchGradientsOrTrainingState) {
  Model model = two_feature_model();
  model.zero_grad();
  const Tensor before = model.parameter("fc.weight").value;
  const Dataset data = Dataset::from_floats("toy", {2}, {1, 2}, {1}, 3);
  evaluate(model, data);
  EXPECT_EQ(model.parameter("fc.weight").value, before);
  EXPECT_EQ(model.parameter("fc.weight").grad.flat().squaredNorm(), 0.0f);
}

TEST(Evaluate, MismatchedShapesAreClearErrors) {
  Model model;
  model.set_input("x", {1, 28, 28});
  model.add_node("flatten", make_op("Flatten", {}));
  model.add_node("fc", make_op("Linear", {{"out_features", 10}}));
  const Dataset flat = Dataset::from_floats("fashion-mnist/test", {784}, std::vector<float>(784), {3}, 10);
  try {
    evaluate(model, flat);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::BadInput);
    EXPECT_STREQ(e.what(),
                 "model expects input [1, 28, 28] but dataset fashion-mnist/test has samples of "
                 "shape [784]");
  }
  const Dataset many_classes =
      Dataset::from_floats("wide", {1, 28, 28}, std::vector<float>(784), {11}, 12);
  try {
    evaluate(model, many_classes);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("12 classes"), std::string::npos) << e.what();
  }
  const Dataset ok = Dataset::from_floats("ok", {1, 28, 28}, std::vector<float>(784), {3}, 10);
  EXPECT_THROW(evaluate(model, ok, 0), Error);
}

}  // namespace
}  // namespace shrink
