// The distillation terms inside training: their gradients reach the student's parameters (finite
// differences through the whole model), their losses carry their weights, a teacher steers the
// student even against the labels, several teachers mix by weight, the hint regressor trains,
// the same seed gives the same student, and every misuse is a clear error.
#include "shrink/compress/distillation.hpp"
#include "shrink/compress/pass.hpp"
#include "shrink/core/error.hpp"
#include "shrink/core/random.hpp"
#include "shrink/nn/gradient_check.hpp"
#include "shrink/train/evaluator.hpp"
#include "shrink/train/trainer.hpp"
#include "../../src/compress/distill/losses.hpp"
#include "support/blobs.hpp"
#include "support/errors.hpp"

#include <gtest/gtest.h>

namespace shrink {
namespace {

using Json = nlohmann::json;
using testing::bad_input_message;

// A small CNN over 1x6x6 images: conv(4) -> relu -> conv(6) -> relu -> flatten -> fc(classes).
Model cnn(int64_t channels, int64_t classes, uint64_t seed) {
  Model model = Model::from_graph_json(Json{
      {"input", {{"name", "x"}, {"shape", {1, 6, 6}}}},
      {"nodes",
       {{{"name", "conv1"}, {"type", "Conv2d"},
         {"attributes", {{"out_channels", channels}, {"kernel_size", 3}, {"padding", 1}}}},
        {{"name", "relu1"}, {"type", "ReLU"}},
        {{"name", "conv2"}, {"type", "Conv2d"},
         {"attributes", {{"out_channels", channels + 2}, {"kernel_size", 3}, {"stride", 2}, {"padding", 1}}}},
        {{"name", "relu2"}, {"type", "ReLU"}},
        {{"name", "flatten"}, {"type", "Flatten"}},
        {{"name", "fc"}, {"type", "Linear"}, {"attributes", {{"out_features", classes}}}}}}});
  model.initialize(seed);
  return model;
}

Tensor random_batch(int64_t n, uint64_t seed) {
  Rng rng(seed);
  Tensor x({n, 1, 6, 6});
  for (float& v : x) v = rng.uniform(0.0f, 1.0f);
  return x;
}

// A model moved into shared ownership, so a braced list of temporaries ({cnn(...), m.clone()})
// can name the teachers (a Model cannot be copied out of an initializer_list).
struct Owned {
  Owned(Model&& model) : model(std::make_shared<Model>(std::move(model))) {}  // NOLINT: implicit on purpose
  std::shared_ptr<Model> model;
};

std::shared_ptr<TeacherSet> teachers_of(std::vector<Owned> models, std::vector<double> weights = {}) {
  std::vector<Teacher> teachers;
  for (size_t i = 0; i < models.size(); ++i)
    teachers.push_back({models[i].model, weights.empty() ? 1.0 : weights[i], "teacher" + std::to_string(i + 1)});
  return std::make_shared<TeacherSet>(std::move(teachers));
}

std::shared_ptr<TrainingTerm> term_with(const std::string& name, const Json& options,
                                        const std::shared_ptr<TeacherSet>& teachers) {
  auto term = make_training_term(name, options);
  EXPECT_EQ(give_teachers({term}, teachers), 1);
  return term;
}

// One evaluation of a term's loss on the student's forward pass of x (teachers fixed).
struct TermProbe {
  Model& student;
  TrainingTerm& term;
  Tensor x;
  TrainStep step;
  Tensor grad_logits;
  ActivationGradients activation_grads;

  TermProbe(Model& s, TrainingTerm& t, Tensor batch) : student(s), term(t), x(std::move(batch)) {
    step.input = &x;
    term.begin(student, TrainConfig{}, 1);
  }
  double loss() {
    const Tensor& logits = student.forward(x, true);
    grad_logits = Tensor(logits.shape());
    activation_grads.clear();
    return term.add_loss(student, step, logits, grad_logits, activation_grads);
  }
  void backward() {
    loss();
    student.backward(grad_logits, false, &activation_grads);
  }
};

struct TermCase {
  std::string name;
  Json options;
};

// Every term's gradient, through the student's layers, against central differences.
TEST(DistillTerms, GradientsReachTheStudentsWeights) {
  const std::vector<TermCase> cases = {
      {"kd", {{"T", 3.0}, {"alpha", 0.7}}},
      {"hint", {{"student", "conv2"}, {"teacher", "conv2"}, {"weight", 2.0}}},
      {"hint", {{"student", "flatten"}, {"teacher", "flatten"}, {"weight", 2.0}}},
      {"attention", {{"student", "relu1"}, {"teacher", "relu2"}, {"weight", 100.0}}},
      {"rkd", {{"student", "relu2"}}},
      {"fsp", {{"student_from", "relu1"}, {"student_to", "conv2"}, {"teacher_from", "conv1"},
               {"teacher_to", "relu2"}, {"weight", 10.0}}},
  };
  for (const TermCase& c : cases) {
    Model student = cnn(3, 4, 1);
    // The teacher is wider (hint regressors and attention compare across widths), except for
    // FSP, whose matrices need equal channel counts.
    auto teachers = teachers_of({cnn(c.name == "fsp" ? 3 : 5, 4, 2)});
    auto term = term_with(c.name, c.options, teachers);
    TermProbe probe(student, *term, random_batch(5, 3));
    probe.backward();
    for (const char* name : {"conv1.weight", "fc.weight"}) {
      Parameter& p = student.parameter(name);
      if (p.grad.flat().cwiseAbs().maxCoeff() == 0.0f) continue;  // the term does not reach it
      const Tensor analytic = p.grad;
      // A step of 3e-4: in this student a ReLU input lies within 1e-3 of zero (conv1.weight[24]
      // moves it across the kink, which every term then sees), and float noise grows below 1e-4.
      const auto check = check_gradient([&] { return probe.loss(); }, p.value, analytic,
                                        c.name + " " + name, 3e-4);
      EXPECT_LT(check.max_error, 2e-2) << c.options.dump() << ": " << check.worst;
    }
    EXPECT_GT(student.parameter("conv1.weight").grad.flat().norm(), 0.0f) << c.name;
  }
}

TEST(DistillTerms, KdWeighsSoftTargetsByAlphaAndMixesTeachersByWeight) {
  Model student = cnn(3, 4, 1);
  Model first = cnn(5, 4, 2), second = cnn(5, 4, 3);
  const Tensor x = random_batch(6, 4);
  const Tensor p1 = distill::softened(first.forward(x), 2.0);
  const Tensor p2 = distill::softened(second.forward(x), 2.0);
  auto term = term_with("kd", {{"T", 2.0}, {"alpha", 0.6}}, teachers_of({first.clone(), second.clone()}, {3.0, 1.0}));
  EXPECT_DOUBLE_EQ(term->hard_label_weight(), 0.4);
  TermProbe probe(student, *term, x);
  Tensor target(p1.shape());
  target.flat() = 0.75f * p1.flat() + 0.25f * p2.flat();
  const Tensor& logits = student.forward(x, true);
  Tensor expected_grad;
  const double expected = 0.6 * distill::kd_loss(logits, target, 2.0, &expected_grad);
  EXPECT_NEAR(probe.loss(), expected, 1e-6);
  for (int64_t i = 0; i < expected_grad.numel(); ++i)
    EXPECT_NEAR(probe.grad_logits[i], 0.6f * expected_grad[i], 1e-7);
}

TEST(DistillTerms, FeatureLossesCarryTheirWeights) {
  Model student = cnn(3, 4, 1);
  Model teacher = cnn(3, 4, 2);
  const Tensor x = random_batch(4, 5);
  teacher.forward(x);
  const Tensor teacher_relu1 = teacher.value("relu1");
  const Tensor teacher_flatten = teacher.value("flatten");
  student.forward(x);
  const double attention = distill::attention_loss(student.value("relu1"), teacher_relu1, 2.0, nullptr);
  const double hint = distill::mean_squared_error(student.value("flatten"), teacher_flatten, nullptr);

  auto at = term_with("attention", {{"student", "relu1"}, {"teacher", "relu1"}}, teachers_of({teacher.clone()}));
  EXPECT_NEAR(TermProbe(student, *at, x).loss(), 500.0 * attention, 1e-9 + 1e-6 * attention);
  auto plain_hint = term_with("hint", {{"student", "flatten"}, {"teacher", "flatten"}, {"regressor", false}, {"weight", 3.0}},
                              teachers_of({teacher.clone()}));
  EXPECT_NEAR(TermProbe(student, *plain_hint, x).loss(), 3.0 * hint, 1e-6 * hint);
  auto rkd = term_with("rkd", {{"angle", 0.0}}, teachers_of({teacher.clone()}));
  const Tensor& logits = student.forward(x);
  const double distance = distill::rkd_distance_loss(logits, teacher.forward(x), nullptr);
  EXPECT_NEAR(TermProbe(student, *rkd, x).loss(), 25.0 * distance, 1e-6 * distance);
}

Dataset blobs(int64_t n, uint64_t seed) { return testing::gaussian_blobs(n, seed, 3, 4, 1); }

Model mlp(uint64_t seed, int64_t hidden = 16) {
  Model model = Model::from_graph_json(Json{
      {"input", {{"name", "x"}, {"shape", {4}}}},
      {"nodes", {{{"name", "fc1"}, {"type", "Linear"}, {"attributes", {{"out_features", hidden}}}},
                 {{"name", "relu1"}, {"type", "ReLU"}},
                 {{"name", "fc2"}, {"type", "Linear"}, {"attributes", {{"out_features", 3}}}}}}});
  model.initialize(seed);
  return model;
}

// A linear teacher that confidently predicts (label + 1) mod 3 on the blobs.
Model shifted_teacher() {
  Model model = Model::from_graph_json(Json{
      {"input", {{"name", "x"}, {"shape", {4}}}},
      {"nodes", {{{"name", "fc"}, {"type", "Linear"}, {"attributes", {{"out_features", 3}}}}}}});
  Tensor& w = model.parameter("fc.weight").value;
  w.zero();
  for (int c = 0; c < 3; ++c) w[((c + 1) % 3) * 4 + c] = 4.0f;
  model.parameter("fc.bias").value.zero();
  return model;
}

// How often `model` predicts (label + shift) mod 3.
double agreement(Model& model, const Dataset& data, int shift) {
  Tensor x;
  std::vector<int32_t> labels;
  std::vector<int64_t> all(static_cast<size_t>(data.size()));
  for (int64_t i = 0; i < data.size(); ++i) all[static_cast<size_t>(i)] = i;
  data.gather(all, x, labels);
  const Tensor& logits = model.forward(x);
  int64_t hits = 0;
  for (int64_t i = 0; i < data.size(); ++i) {
    const float* row = logits.data() + i * 3;
    const int best = static_cast<int>(std::max_element(row, row + 3) - row);
    hits += best == (labels[static_cast<size_t>(i)] + shift) % 3;
  }
  return static_cast<double>(hits) / static_cast<double>(data.size());
}

TrainConfig quick_config() {
  TrainConfig c;
  c.epochs = 4;
  c.batch_size = 16;
  c.lr = 0.1f;
  c.seed = 5;
  return c;
}

TEST(DistillTerms, ATeacherThatDisagreesWithTheDataWinsAtAlphaOne) {
  const Dataset data = blobs(400, 1);
  Model follower = mlp(2);
  train(follower, data, quick_config(), {}, {},
        {term_with("kd", {{"alpha", 1.0}, {"T", 2.0}}, teachers_of({shifted_teacher()}))});
  EXPECT_GT(agreement(follower, data, 1), 0.9);  // the teacher's shifted labels
  EXPECT_LT(agreement(follower, data, 0), 0.1);

  Model labelled = mlp(2);
  train(labelled, data, quick_config(), {}, {},
        {term_with("kd", {{"alpha", 0.0}}, teachers_of({shifted_teacher()}))});
  EXPECT_GT(agreement(labelled, data, 0), 0.9);  // alpha 0: cross-entropy alone
}

TEST(DistillTerms, SeveralTeachersCountByTheirWeights) {
  const Dataset data = blobs(400, 2);
  Model right = mlp(3);
  train(right, data, quick_config());
  Model student = mlp(4);
  train(student, data, quick_config(), {}, {},
        {term_with("kd", {{"alpha", 1.0}}, teachers_of({right.clone(), shifted_teacher()}, {0.8, 0.2}))});
  EXPECT_GT(agreement(student, data, 0), 0.9);
  Model swayed = mlp(4);
  train(swayed, data, quick_config(), {}, {},
        {term_with("kd", {{"alpha", 1.0}}, teachers_of({right.clone(), shifted_teacher()}, {0.2, 0.8}))});
  EXPECT_GT(agreement(swayed, data, 1), 0.9);
}

TEST(DistillTerms, TheHintRegressorTrainsAndStaysOutOfTheStudent) {
  const Dataset data = blobs(400, 3);
  Model teacher = mlp(5, 32);
  train(teacher, data, quick_config());
  Model student = mlp(6, 8);
  TrainConfig config = quick_config();
  config.epochs = 6;
  const TrainResult result = train(
      student, data, config, {}, {},
      {term_with("hint", {{"student", "relu1"}, {"teacher", "relu1"}, {"weight", 1.0}}, teachers_of({teacher.clone()}))});
  EXPECT_LT(result.history.back().term_losses.at("hint"), 0.5 * result.history.front().term_losses.at("hint"));
  EXPECT_EQ(student.parameters().size(), mlp(6, 8).parameters().size());
  EXPECT_EQ(student.parameter("fc1.weight").value.shape(), (Shape{8, 4}));
}

TEST(DistillTerms, TheSameSeedGivesTheSameStudent) {
  const Dataset data = blobs(200, 4);
  Model teacher = mlp(7, 32);
  train(teacher, data, quick_config());
  // The terms' default weights (hint 1, rkd 25 and 50) are sized for the usual lr of 0.01.
  TrainConfig config = quick_config();
  config.lr = 0.01f;
  auto distilled = [&] {
    Model student = mlp(8);
    auto teachers = teachers_of({teacher.clone()});
    train(student, data, config, {}, {},
          {term_with("kd", {}, teachers), term_with("hint", {{"student", "relu1"}, {"teacher", "relu1"}}, teachers),
           term_with("rkd", {}, teachers)});
    return student;
  };
  const Model a = distilled(), b = distilled();
  for (const Parameter* p : a.parameters()) EXPECT_EQ(p->value, b.parameter(p->name).value) << p->name;
}

TEST(DistillTerms, TeachersSeeTheBatchInTheirOwnNormalization) {
  // A teacher that returns its input shows what it was given.
  Model echo = Model::from_graph_json(Json{{"input", {{"name", "x"}, {"shape", {2, 1, 1}}}},
                                          {"nodes", {{{"name", "flat"}, {"type", "Flatten"}}}}});
  Normalization student_input;  // scale 1/255, mean 0, std 1, as Fashion-MNIST
  student_input.scale = 1.0f / 255.0f;
  Normalization own;
  own.scale = 1.0f;
  own.mean = {100.0f, 0.0f};
  own.std = {50.0f, 2.0f};
  echo.metadata["normalization"] = own.to_json();
  TeacherSet teachers({{std::make_shared<Model>(std::move(echo)), 1.0, "echo"}}, &student_input);
  const Tensor batch({1, 2, 1, 1}, {200.0f / 255.0f, 10.0f / 255.0f});  // raw pixels 200 and 10
  TrainStep step;
  step.input = &batch;
  teachers.run(step);
  EXPECT_NEAR(teachers.output(0)[0], (200.0f - 100.0f) / 50.0f, 1e-5);
  EXPECT_NEAR(teachers.output(0)[1], 10.0f / 2.0f, 1e-5);
}

TEST(DistillTerms, MisuseIsAClearError) {
  auto teachers = teachers_of({cnn(5, 4, 2)});
  Model student = cnn(3, 4, 1);
  auto begin = [&](const std::string& name, const Json& options, const std::shared_ptr<TeacherSet>& t) {
    return bad_input_message([&] { term_with(name, options, t)->begin(student, TrainConfig{}, 1); });
  };
  EXPECT_NE(begin("hint", {{"student", "conv9"}, {"teacher", "conv2"}}, teachers).find("its nodes: conv1, relu1"),
            std::string::npos);
  EXPECT_NE(begin("attention", {{"student", "conv1"}, {"teacher", "nope"}}, teachers).find("teacher teacher1 has no node named 'nope'"),
            std::string::npos);
  EXPECT_NE(begin("kd", {}, teachers_of({cnn(5, 7, 2)})).find("same classes"), std::string::npos);
  EXPECT_NE(begin("hint", {{"student", "conv2"}, {"teacher", "conv2"}, {"regressor", false}}, teachers).find("must be equal"),
            std::string::npos);
  EXPECT_NE(begin("hint", {{"student", "conv2"}, {"teacher", "flatten"}}, teachers).find("a hint joins"),
            std::string::npos);
  EXPECT_NE(begin("attention", {{"student", "flatten"}, {"teacher", "conv2"}}, teachers).find("spatial attention"),
            std::string::npos);
  EXPECT_NE(begin("fsp", {{"student_from", "conv1"}, {"student_to", "conv2"}, {"teacher_from", "conv1"}, {"teacher_to", "conv2"}},
                  teachers).find("same channel counts"),
            std::string::npos);
  EXPECT_NE(begin("rkd", {{"teacher_index", 2}}, teachers).find("there is 1 teacher"), std::string::npos);

  Model other_input = Model::from_graph_json(Json{{"input", {{"shape", {3}}}},
                                                  {"nodes", {{{"type", "Linear"}, {"attributes", {{"out_features", 4}}}}}}});
  EXPECT_NE(begin("kd", {}, teachers_of({std::move(other_input)})).find("takes inputs of shape"), std::string::npos);
  EXPECT_NE(bad_input_message([&] { make_training_term("kd", {})->begin(student, TrainConfig{}, 1); }).find("has no teacher"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] { make_training_term("kd", {{"T", 0.0}}); }).find("temperature"), std::string::npos);
  EXPECT_NE(bad_input_message([] { make_training_term("kd", {{"alpha", 1.5}}); }).find("[0, 1]"), std::string::npos);
  EXPECT_NE(bad_input_message([] { make_training_term("kd", {{"temperature", 2}}); }).find("unknown option"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] { make_training_term("hint", {{"student", "a"}}); }).find("hint:student=NODE"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] { TeacherSet({}); }).find("at least one teacher"), std::string::npos);
}

}  // namespace
}  // namespace shrink
