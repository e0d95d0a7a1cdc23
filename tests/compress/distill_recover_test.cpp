// distill.recover: fine-tuning a pruned model with the model before pruning as its teacher.
#include "shrink/compress/pass.hpp"
#include "shrink/core/error.hpp"
#include "shrink/core/random.hpp"
#include "shrink/nn/weights.hpp"
#include "shrink/train/evaluator.hpp"
#include "support/errors.hpp"

#include <gtest/gtest.h>

namespace shrink {
namespace {

using Json = nlohmann::json;
using testing::bad_input_message;

// Four Gaussian blobs in 8 dimensions.
Dataset blobs(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> features;
  std::vector<int32_t> labels;
  for (int64_t i = 0; i < n; ++i) {
    const auto label = static_cast<int32_t>(rng.below(4));
    for (int d = 0; d < 8; ++d) features.push_back((d % 4 == label ? 1.5f : 0.0f) + rng.normal(0.0f, 0.6f));
    labels.push_back(label);
  }
  return Dataset::from_floats("blobs", {8}, features, labels, 4);
}

Model trained_mlp(const Dataset& data) {
  Model model = Model::from_graph_json(Json{
      {"input", {{"name", "x"}, {"shape", {8}}}},
      {"nodes", {{{"name", "fc1"}, {"type", "Linear"}, {"attributes", {{"out_features", 32}}}},
                 {{"name", "relu1"}, {"type", "ReLU"}},
                 {{"name", "fc2"}, {"type", "Linear"}, {"attributes", {{"out_features", 4}}}}}}});
  model.initialize(1);
  TrainConfig config;
  config.epochs = 5;
  config.batch_size = 32;
  config.lr = 0.05f;
  train(model, data, config);
  return model;
}

TEST(DistillRecover, FineTunesAPrunedModelFromTheModelBeforePruning) {
  const Dataset data = blobs(800, 1);
  const Dataset test = blobs(400, 2);
  Model model = trained_mlp(data);
  const double before = evaluate(model, test).accuracy;
  ASSERT_GT(before, 0.85);
  Model original = model.clone();

  const Recipe recipe = Recipe::from_json(Json::parse(R"({"passes": [
      {"pass": "prune.magnitude", "sparsity": 0.9, "scope": "global"},
      {"pass": "distill.recover", "epochs": 2, "lr": 0.02, "terms": [{"term": "kd", "T": 2}]}]})"));
  EXPECT_TRUE(recipe.needs_teacher());
  PassContext context;
  context.train = &data;
  context.teacher = &original;
  recipe.run(model, context);

  EXPECT_NEAR(weight_sparsity(model).sparsity(), 0.9, 0.01);  // the masks held
  EXPECT_GT(evaluate(model, test).accuracy, before - 0.05);
  const Json& section = context.sections.back();
  EXPECT_EQ(section["pass"], "distill.recover");
  EXPECT_EQ(section["teachers"], Json::array({"the model before compression"}));
  ASSERT_EQ(section["epochs"].size(), 2u);
  EXPECT_GT(section["epochs"][0]["losses"]["kd"].get<double>(), 0.0);
  // The teacher is left as it was.
  for (const Parameter* p : original.parameters()) EXPECT_FALSE(p->has_mask()) << p->name;
}

TEST(DistillRecover, NeedsATeacherAndADistillationLoss) {
  EXPECT_FALSE(Recipe::from_json(Json::parse(R"({"passes": [{"pass": "train.finetune"}]})")).needs_teacher());
  EXPECT_FALSE(make_pass("distill.recover", {{"teachers", {"big.shrk"}}})->needs_teacher());
  EXPECT_NE(bad_input_message([] { make_pass("distill.recover", {{"terms", Json::array({{{"term", "bn_l1"}}})}}); })
                .find("holds no distillation loss"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] { make_pass("distill.recover", {{"teachers", {"a.shrk"}}, {"teacher_weights", {0.5, 0.5}}}); })
                .find("2 teacher_weights for 1 teachers"),
            std::string::npos);
  const Dataset data = blobs(64, 3);
  Model model = trained_mlp(data);
  PassContext context;
  context.train = &data;
  EXPECT_NE(bad_input_message([&] { make_pass("distill.recover", {})->run(model, context); }).find("no teacher"),
            std::string::npos);
  // A distillation term outside distill.recover has no teacher either, and says where to get one.
  EXPECT_NE(bad_input_message([&] {
              make_pass("train.finetune", {{"terms", Json::array({{{"term", "kd"}}})}})->run(model, context);
            }).find("distill.recover"),
            std::string::npos);
}

}  // namespace
}  // namespace shrink
