// The distillation losses' math: values and gradients against PyTorch's autograd on fixed inputs
// (tests/fixtures/distill/losses.json, from scripts/make_distill_fixtures.py), and
// finite-difference gradient checks on other shapes.
#include "../../src/compress/distill/losses.hpp"
#include "shrink/core/error.hpp"
#include "shrink/core/random.hpp"
#include "shrink/nn/gradient_check.hpp"
#include "support/errors.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace shrink {
namespace {

using Json = nlohmann::json;
using testing::bad_input_message;

Tensor tensor_of(const Json& json) {
  return Tensor(json["shape"].get<Shape>(), json["values"].get<std::vector<float>>());
}

Tensor random_tensor(const Shape& shape, uint64_t seed, float scale = 1.0f) {
  Rng rng(seed);
  Tensor t(shape);
  for (float& v : t) v = rng.normal(0.0f, scale);
  return t;
}

void expect_close(const Tensor& actual, const Tensor& expected, const std::string& what) {
  ASSERT_EQ(actual.shape(), expected.shape()) << what;
  const float scale = std::max(1e-6f, expected.flat().cwiseAbs().maxCoeff());
  for (int64_t i = 0; i < actual.numel(); ++i)
    ASSERT_NEAR(actual[i], expected[i], 2e-5f * scale) << what << " element " << i;
}

Json fixture_cases() {
  std::ifstream in(std::string(SHRINK_SOURCE_DIR) + "/tests/fixtures/distill/losses.json");
  EXPECT_TRUE(in.good()) << "missing fixture; run scripts/make_distill_fixtures.py";
  return Json::parse(in)["cases"];
}

TEST(DistillLosses, MatchPyTorchOnFixedInputs) {
  int checked = 0;
  for (const Json& c : fixture_cases()) {
    const std::string name = c["name"];
    const std::string kind = c["kind"];
    Tensor grad;
    if (kind == "kd") {
      const Tensor student = tensor_of(c["student"]);
      Tensor target(student.shape());
      const auto weights = c["weights"].get<std::vector<double>>();
      for (size_t i = 0; i < weights.size(); ++i)
        target.flat() += static_cast<float>(weights[i]) *
                         distill::softened(tensor_of(c["teachers"][i]), c["T"].get<double>()).flat();
      EXPECT_NEAR(distill::kd_loss(student, target, c["T"], &grad), c["loss"].get<double>(),
                  1e-5 * std::max(1.0, std::abs(c["loss"].get<double>())))
          << name;
      expect_close(grad, tensor_of(c["grad"]), name);
    } else if (kind == "attention") {
      EXPECT_NEAR(distill::attention_loss(tensor_of(c["student"]), tensor_of(c["teacher"]), c["p"], &grad),
                  c["loss"].get<double>(), 1e-6)
          << name;
      expect_close(grad, tensor_of(c["grad"]), name);
    } else if (kind == "fsp") {
      Tensor grad_second;
      const Tensor teacher = distill::fsp_matrix(tensor_of(c["teacher_first"]), tensor_of(c["teacher_second"]));
      EXPECT_NEAR(distill::fsp_loss(tensor_of(c["first"]), tensor_of(c["second"]), teacher, &grad, &grad_second),
                  c["loss"].get<double>(), 1e-5 * std::max(1.0, c["loss"].get<double>()))
          << name;
      expect_close(grad, tensor_of(c["grad_first"]), name + " (first)");
      expect_close(grad_second, tensor_of(c["grad_second"]), name + " (second)");
    } else if (kind == "rkd") {
      const Tensor student = tensor_of(c["student"]), teacher = tensor_of(c["teacher"]);
      EXPECT_NEAR(distill::rkd_distance_loss(student, teacher, &grad), c["distance"].get<double>(), 1e-6) << name;
      expect_close(grad, tensor_of(c["distance_grad"]), name + " (distance)");
      EXPECT_NEAR(distill::rkd_angle_loss(student, teacher, &grad), c["angle"].get<double>(), 1e-6) << name;
      expect_close(grad, tensor_of(c["angle_grad"]), name + " (angle)");
    } else {
      FAIL() << "unknown fixture kind " << kind;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 11);
}

TEST(DistillLosses, KdIsZeroWhenTheStudentMatchesAndItsGradientFollowsT) {
  const Tensor logits = random_tensor({4, 6}, 1, 2.0f);
  Tensor grad;
  EXPECT_NEAR(distill::kd_loss(logits, distill::softened(logits, 3.0), 3.0, &grad), 0.0, 1e-6);
  EXPECT_LT(grad.flat().cwiseAbs().maxCoeff(), 1e-6f);
  // Against a uniform target the gradient is T (p - 1/K) / N.
  Tensor uniform({4, 6}, 1.0f / 6.0f);
  distill::kd_loss(logits, uniform, 2.0, &grad);
  const Tensor p = distill::softened(logits, 2.0);
  for (int64_t i = 0; i < grad.numel(); ++i) EXPECT_NEAR(grad[i], 2.0 * (p[i] - 1.0 / 6.0) / 4.0, 1e-6);
}

// Finite differences on shapes the fixture does not cover.
TEST(DistillLosses, GradientsMatchFiniteDifferences) {
  Tensor grad;
  {
    Tensor student = random_tensor({3, 7}, 2, 2.0f);
    const Tensor target = distill::softened(random_tensor({3, 7}, 3, 4.0f), 5.0);
    distill::kd_loss(student, target, 5.0, &grad);
    const auto check = check_gradient([&] { return distill::kd_loss(student, target, 5.0, nullptr); },
                                      student, grad, "kd", 1e-2);
    EXPECT_LT(check.max_error, 1e-3) << check.worst;
  }
  {
    Tensor a = random_tensor({2, 3, 4}, 4);
    const Tensor b = random_tensor({2, 3, 4}, 5);
    distill::mean_squared_error(a, b, &grad);
    const auto check = check_gradient([&] { return distill::mean_squared_error(a, b, nullptr); }, a, grad, "mse", 1e-2);
    EXPECT_LT(check.max_error, 1e-3) << check.worst;
  }
  {
    Tensor student = random_tensor({2, 4, 6, 5}, 6);
    const Tensor teacher = random_tensor({2, 2, 3, 2}, 7);  // pooled: 6x5 -> 3x2, uneven windows
    for (double p : {1.5, 2.0, 4.0}) {
      distill::attention_loss(student, teacher, p, &grad);
      const auto check = check_gradient([&] { return distill::attention_loss(student, teacher, p, nullptr); },
                                        student, grad, "attention p=" + std::to_string(p), 3e-3);
      EXPECT_LT(check.max_error, 1e-2) << check.worst;  // a 5% wrong factor would show as 5e-2
    }
  }
  {
    Tensor first = random_tensor({2, 3, 5, 5}, 8);
    Tensor second = random_tensor({2, 2, 2, 2}, 9);  // first pooled 5x5 -> 2x2
    const Tensor teacher = random_tensor({2, 3, 2}, 10);
    Tensor grad_second;
    distill::fsp_loss(first, second, teacher, &grad, &grad_second);
    auto loss = [&] { return distill::fsp_loss(first, second, teacher, nullptr, nullptr); };
    auto check = check_gradient(loss, first, grad, "fsp first", 1e-2);
    EXPECT_LT(check.max_error, 1e-3) << check.worst;
    check = check_gradient(loss, second, grad_second, "fsp second", 1e-2);
    EXPECT_LT(check.max_error, 1e-3) << check.worst;
  }
  {
    Tensor student = random_tensor({7, 5}, 11);
    const Tensor teacher = random_tensor({7, 3}, 12, 4.0f);
    distill::rkd_distance_loss(student, teacher, &grad);
    auto check = check_gradient([&] { return distill::rkd_distance_loss(student, teacher, nullptr); },
                                student, grad, "rkd distance", 1e-3);
    EXPECT_LT(check.max_error, 1e-3) << check.worst;
    distill::rkd_angle_loss(student, teacher, &grad);
    check = check_gradient([&] { return distill::rkd_angle_loss(student, teacher, nullptr); },
                           student, grad, "rkd angle", 1e-3);
    EXPECT_LT(check.max_error, 1e-3) << check.worst;
  }
}

TEST(DistillLosses, AdaptivePoolingAveragesWindowsAndItsBackwardIsTheAdjoint) {
  // 4x4 -> 2x2 is plain 2x2 average pooling.
  Tensor x({1, 4, 4});
  for (int64_t i = 0; i < 16; ++i) x[i] = static_cast<float>(i);
  Tensor y({1, 2, 2});
  distill::adaptive_average_pool(x.data(), 1, 4, 4, y.data(), 2, 2);
  EXPECT_EQ(y, Tensor({1, 2, 2}, {2.5f, 4.5f, 10.5f, 12.5f}));
  // <pool(x), g> = <x, pool_backward(g)> on uneven windows (7x5 -> 3x2).
  const Tensor a = random_tensor({2, 7, 5}, 13);
  const Tensor g = random_tensor({2, 3, 2}, 14);
  Tensor pooled({2, 3, 2}), back({2, 7, 5});
  distill::adaptive_average_pool(a.data(), 2, 7, 5, pooled.data(), 3, 2);
  distill::adaptive_average_pool_backward(g.data(), 2, 7, 5, back.data(), 3, 2);
  EXPECT_NEAR(pooled.flat().dot(g.flat()), a.flat().dot(back.flat()), 1e-4);
}

TEST(DistillLosses, RelationsIgnoreScaleAndRotation) {
  // RKD compares structure: a scaled and rotated copy of the teacher's embeddings costs nothing.
  const Tensor teacher = random_tensor({6, 2}, 15);
  Tensor student({6, 2});
  for (int64_t i = 0; i < 6; ++i) {
    const float x = teacher[2 * i], y = teacher[2 * i + 1];
    student[2 * i] = 3.0f * (0.6f * x - 0.8f * y);
    student[2 * i + 1] = 3.0f * (0.8f * x + 0.6f * y);
  }
  EXPECT_NEAR(distill::rkd_distance_loss(student, teacher, nullptr), 0.0, 1e-10);
  EXPECT_NEAR(distill::rkd_angle_loss(student, teacher, nullptr), 0.0, 1e-10);
  EXPECT_GT(distill::rkd_distance_loss(random_tensor({6, 2}, 16), teacher, nullptr), 1e-3);
}

TEST(DistillLosses, ShapeMismatchesAreClearErrors) {
  EXPECT_NE(bad_input_message([] {
              distill::kd_loss(Tensor({2, 10}), Tensor({2, 5}), 4.0, nullptr);
            }).find("same shape"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] { distill::attention_map(Tensor({2, 8}), 2.0); }).find("spatial"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] {
              distill::attention_loss(Tensor({2, 3, 4, 8}), Tensor({2, 3, 8, 4}), 2.0, nullptr);
            }).find("fits inside"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] {
              distill::fsp_loss(Tensor({1, 3, 4, 4}), Tensor({1, 5, 4, 4}), Tensor({1, 3, 6}), nullptr, nullptr);
            }).find("channel counts"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] {
              distill::rkd_angle_loss(Tensor({4, 3}), Tensor({5, 3}), nullptr);
            }).find("batch"),
            std::string::npos);
}

}  // namespace
}  // namespace shrink
