#include "shrink/core/error.hpp"
#include "shrink/core/random.hpp"
#include "shrink/nn/gradient_check.hpp"
#include "shrink/nn/op.hpp"
#include "op_testing.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace shrink {
namespace {

using testing::expect_gradients_match;

Tensor random_tensor(const Shape& shape, uint64_t seed, float low = -2.0f, float high = 2.0f) {
  Rng rng(seed);
  Tensor t(shape);
  for (float& v : t) v = rng.uniform(low, high);
  return t;
}

// Parameters as the model would create them from the op's specs, with the given values.
std::vector<Parameter> make_params(const Op& op, const Shape& input, const std::vector<float>& weight,
                                   const std::vector<float>& bias,
                                   const std::vector<float>& running_mean,
                                   const std::vector<float>& running_var) {
  const auto specs = op.parameter_specs({input});
  const std::vector<float>* values[] = {&weight, &bias, &running_mean, &running_var};
  std::vector<Parameter> params;
  for (size_t j = 0; j < specs.size(); ++j) {
    Parameter p;
    p.name = specs[j].suffix;
    p.value = Tensor(specs[j].shape, *values[j]);
    p.grad = Tensor(specs[j].shape);
    p.trainable = specs[j].trainable;
    params.push_back(std::move(p));
  }
  return params;
}

Tensor run_forward(Op& op, const Tensor& x, std::vector<Parameter>& params, bool training) {
  OpArgs args;
  args.inputs = {&x};
  for (auto& p : params) args.params.push_back(&p);
  args.training = training;
  Tensor out(op.output_shape({x.shape()}));
  op.forward(args, out);
  return out;
}

// Straightforward reference in double: normalise each channel of [N, C, S] by (mean, var).
Tensor reference(const Tensor& x, const std::vector<double>& mean, const std::vector<double>& var,
                 const std::vector<float>& weight, const std::vector<float>& bias, double eps) {
  const int64_t n_batch = x.dim(0), channels = x.dim(1), spatial = x.numel() / (n_batch * channels);
  Tensor y(x.shape());
  for (int64_t n = 0; n < n_batch; ++n)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t s = 0; s < spatial; ++s) {
        const int64_t i = (n * channels + c) * spatial + s;
        y[i] = static_cast<float>((x[i] - mean[c]) / std::sqrt(var[c] + eps) * weight[c] + bias[c]);
      }
  return y;
}

void batch_stats(const Tensor& x, std::vector<double>& mean, std::vector<double>& var) {
  const int64_t n_batch = x.dim(0), channels = x.dim(1), spatial = x.numel() / (n_batch * channels);
  mean.assign(channels, 0.0);
  var.assign(channels, 0.0);
  const double count = static_cast<double>(n_batch * spatial);
  for (int64_t n = 0; n < n_batch; ++n)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t s = 0; s < spatial; ++s) mean[c] += x[(n * channels + c) * spatial + s] / count;
  for (int64_t n = 0; n < n_batch; ++n)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t s = 0; s < spatial; ++s) {
        const double d = x[(n * channels + c) * spatial + s] - mean[c];
        var[c] += d * d / count;
      }
}

TEST(BatchNorm, TrainingForwardMatchesHandComputedValuesAndUpdatesRunningStats) {
  auto op = make_op("BatchNorm1d", {});
  // Channel 0: 1, 2, 3, 4 (mean 2.5, biased var 1.25, unbiased 5/3);
  // channel 1: 2, 4, 6, 8 (mean 5, biased var 5, unbiased 20/3).
  Tensor x({4, 2}, {1, 2, 2, 4, 3, 6, 4, 8});
  auto params = make_params(*op, x.shape(), {2.0f, 0.5f}, {0.0f, 1.0f}, {0, 0}, {1, 1});
  const Tensor y = run_forward(*op, x, params, true);
  const float expected[4][2] = {{-2.68327084f, 0.32918028f},
                                {-0.89442361f, 0.77639343f},
                                {0.89442361f, 1.22360657f},
                                {2.68327084f, 1.67081972f}};
  for (int n = 0; n < 4; ++n)
    for (int c = 0; c < 2; ++c) EXPECT_NEAR(y[n * 2 + c], expected[n][c], 1e-5) << n << "," << c;
  // running = 0.9 * running + 0.1 * batch statistic, with the unbiased variance.
  EXPECT_NEAR(params[2].value[0], 0.25f, 1e-6);
  EXPECT_NEAR(params[2].value[1], 0.5f, 1e-6);
  EXPECT_NEAR(params[3].value[0], 0.9f + 0.1f * 5.0f / 3.0f, 1e-6);
  EXPECT_NEAR(params[3].value[1], 0.9f + 0.1f * 20.0f / 3.0f, 1e-6);
}

TEST(BatchNorm, EvalForwardUsesRunningStatsAndLeavesThemAlone) {
  auto op = make_op("BatchNorm1d", {});
  Tensor x({4, 2}, {1, 2, 2, 4, 3, 6, 4, 8});
  auto params = make_params(*op, x.shape(), {2.0f, 0.5f}, {0.0f, 1.0f}, {0.25f, 0.5f},
                            {1.0666667f, 1.5666667f});
  const Tensor y = run_forward(*op, x, params, false);
  const float expected[4][2] = {{1.45236195f, 1.59919968f},
                                {3.38884454f, 2.39813260f},
                                {5.32532714f, 3.19706551f},
                                {7.26180973f, 3.99599842f}};
  for (int n = 0; n < 4; ++n)
    for (int c = 0; c < 2; ++c) EXPECT_NEAR(y[n * 2 + c], expected[n][c], 1e-5) << n << "," << c;
  EXPECT_EQ(params[2].value, Tensor({2}, {0.25f, 0.5f}));
  EXPECT_EQ(params[3].value, Tensor({2}, {1.0666667f, 1.5666667f}));
}

TEST(BatchNorm, MomentumAttributeControlsTheRunningUpdate) {
  auto op = make_op("BatchNorm1d", {{"momentum", 0.5}, {"eps", 1e-3}});
  Tensor x({4, 1}, {1, 2, 3, 4});
  auto params = make_params(*op, x.shape(), {1}, {0}, {1.0f}, {3.0f});
  const Tensor y = run_forward(*op, x, params, true);
  EXPECT_NEAR(params[2].value[0], 0.5f * 1.0f + 0.5f * 2.5f, 1e-6);
  EXPECT_NEAR(params[3].value[0], 0.5f * 3.0f + 0.5f * 5.0f / 3.0f, 1e-6);
  EXPECT_NEAR(y[0], -1.5 / std::sqrt(1.25 + 1e-3), 1e-5);
}

TEST(BatchNorm, TwoDimensionalForwardMatchesReferenceInBothModes) {
  auto op = make_op("BatchNorm2d", {});
  const Tensor x = random_tensor({3, 4, 3, 5}, 11, -1.0f, 3.0f);
  const std::vector<float> weight{0.5f, 1.5f, -1.0f, 2.0f}, bias{0.1f, -0.2f, 0.3f, 0.0f};
  const std::vector<float> running_mean{0.2f, -0.1f, 0.4f, 1.0f}, running_var{0.5f, 2.0f, 1.0f, 0.8f};
  auto params = make_params(*op, x.shape(), weight, bias, running_mean, running_var);

  std::vector<double> mean, var;
  batch_stats(x, mean, var);
  const Tensor train = run_forward(*op, x, params, true);
  const Tensor expected_train = reference(x, mean, var, weight, bias, 1e-5);
  for (int64_t i = 0; i < x.numel(); ++i) ASSERT_NEAR(train[i], expected_train[i], 1e-4) << i;

  const double count = 3.0 * 3 * 5;
  std::vector<double> updated_mean(4), updated_var(4);
  for (int c = 0; c < 4; ++c) {
    updated_mean[c] = 0.9 * running_mean[c] + 0.1 * mean[c];
    updated_var[c] = 0.9 * running_var[c] + 0.1 * var[c] * count / (count - 1);
    EXPECT_NEAR(params[2].value[c], updated_mean[c], 1e-5);
    EXPECT_NEAR(params[3].value[c], updated_var[c], 1e-5);
  }
  const Tensor eval = run_forward(*op, x, params, false);
  const Tensor expected_eval = reference(x, updated_mean, updated_var, weight, bias, 1e-5);
  for (int64_t i = 0; i < x.numel(); ++i) ASSERT_NEAR(eval[i], expected_eval[i], 1e-4) << i;
}

TEST(BatchNorm, TrainingOutputHasBiasMeanAndWeightSpreadPerChannel) {
  auto op = make_op("BatchNorm1d", {});
  const Tensor x = random_tensor({5, 3, 7}, 3, 4.0f, 9.0f);
  auto params = make_params(*op, x.shape(), {1.0f, 2.0f, 0.5f}, {0.0f, 1.0f, -3.0f}, {0, 0, 0},
                            {1, 1, 1});
  const Tensor y = run_forward(*op, x, params, true);
  std::vector<double> mean, var;
  batch_stats(y, mean, var);
  const double weight[] = {1.0, 2.0, 0.5}, bias[] = {0.0, 1.0, -3.0};
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(mean[c], bias[c], 1e-5);
    EXPECT_NEAR(var[c], weight[c] * weight[c], 1e-3);
  }
}

TEST(BatchNorm, LargeInputTakesTheParallelPathWithTheSameResult) {
  auto op = make_op("BatchNorm2d", {});
  const Tensor x = random_tensor({4, 8, 32, 32}, 5);
  const std::vector<float> weight(8, 1.5f), bias(8, 0.25f);
  auto params = make_params(*op, x.shape(), weight, bias, std::vector<float>(8, 0.0f),
                            std::vector<float>(8, 1.0f));
  std::vector<double> mean, var;
  batch_stats(x, mean, var);
  const Tensor y = run_forward(*op, x, params, true);
  const Tensor expected = reference(x, mean, var, weight, bias, 1e-5);
  for (int64_t i = 0; i < x.numel(); ++i) ASSERT_NEAR(y[i], expected[i], 1e-4) << i;
}

struct GradientCase {
  const char* type;
  Shape shape;
  bool training;
};

TEST(BatchNorm, GradientsMatchFiniteDifferences) {
  const GradientCase cases[] = {
      {"BatchNorm1d", {6, 3}, true},       {"BatchNorm1d", {6, 3}, false},
      {"BatchNorm1d", {3, 2, 4}, true},    {"BatchNorm1d", {3, 2, 4}, false},
      {"BatchNorm2d", {2, 3, 2, 3}, true}, {"BatchNorm2d", {2, 3, 2, 3}, false},
  };
  for (const auto& test : cases) {
    auto op = make_op(test.type, {});
    const int64_t channels = test.shape[1];
    const Tensor x = random_tensor(test.shape, 21);
    std::vector<float> weight(channels), bias(channels), mean(channels), var(channels);
    for (int64_t c = 0; c < channels; ++c) {
      weight[c] = 0.5f + 0.4f * static_cast<float>(c);
      bias[c] = 0.1f * static_cast<float>(c) - 0.2f;
      mean[c] = 0.3f - 0.2f * static_cast<float>(c);
      var[c] = 0.6f + 0.5f * static_cast<float>(c);
    }
    expect_gradients_match(*op, {x}, make_params(*op, test.shape, weight, bias, mean, var), 1e-2,
                           std::string(test.type) + " " + to_string(test.shape) +
                               (test.training ? " training" : " eval"),
                           test.training);
  }
}

TEST(BatchNorm, EvalBackwardAddsIntoParameterGradients) {
  auto op = make_op("BatchNorm1d", {});
  Tensor x({2, 1}, {1.0f, 3.0f});
  auto params = make_params(*op, x.shape(), {2.0f}, {0.0f}, {1.0f}, {4.0f - 1e-5f});
  params[0].grad[0] = 10.0f;
  params[1].grad[0] = 20.0f;
  OpArgs args;
  args.inputs = {&x};
  for (auto& p : params) args.params.push_back(&p);
  Tensor y({2, 1});
  op->forward(args, y);
  Tensor gx;
  op->backward(args, y, Tensor({2, 1}, {1.0f, 1.0f}), {&gx});
  // x_hat = (x - 1) / 2 = {0, 1}; d weight = 0 + 1, d bias = 2, dx = weight / 2 = 1.
  EXPECT_NEAR(params[0].grad[0], 11.0f, 1e-5);
  EXPECT_NEAR(params[1].grad[0], 22.0f, 1e-5);
  ASSERT_EQ(gx.shape(), x.shape());
  EXPECT_NEAR(gx[0], 1.0f, 1e-5);
  EXPECT_NEAR(gx[1], 1.0f, 1e-5);
}

TEST(BatchNorm, ParameterSpecsFollowPyTorch) {
  auto op = make_op("BatchNorm2d", {});
  const auto specs = op->parameter_specs({{8, 5, 4, 4}});
  ASSERT_EQ(specs.size(), 4u);
  const char* names[] = {"weight", "bias", "running_mean", "running_var"};
  const Init inits[] = {Init::Ones, Init::Zeros, Init::Zeros, Init::Ones};
  const bool trainable[] = {true, true, false, false};
  for (size_t j = 0; j < 4; ++j) {
    EXPECT_EQ(specs[j].suffix, names[j]);
    EXPECT_EQ(specs[j].shape, Shape{5});
    EXPECT_EQ(specs[j].init, inits[j]);
    EXPECT_EQ(specs[j].trainable, trainable[j]);
  }
  EXPECT_EQ(op->output_shape({{8, 5, 4, 4}}), (Shape{8, 5, 4, 4}));
}

TEST(BatchNorm, AttributesRoundTripThroughMakeOp) {
  for (const char* type : {"BatchNorm1d", "BatchNorm2d"}) {
    auto op = make_op(type, {{"eps", 1e-3}, {"momentum", 0.25}});
    EXPECT_EQ(op->type(), type);
    const auto again = make_op(op->type(), op->attributes());
    EXPECT_EQ(again->attributes(), op->attributes());
    EXPECT_DOUBLE_EQ(op->attributes()["eps"].get<double>(), 1e-3);
    EXPECT_DOUBLE_EQ(op->attributes()["momentum"].get<double>(), 0.25);
    const auto defaults = make_op(type, nlohmann::json::object())->attributes();
    EXPECT_DOUBLE_EQ(defaults["eps"].get<double>(), 1e-5);
    EXPECT_DOUBLE_EQ(defaults["momentum"].get<double>(), 0.1);
  }
}

void expect_bad_input(const std::function<void()>& action, const std::string& needle) {
  try {
    action();
    FAIL() << "expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::BadInput);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(BatchNorm, BadInputsAreRejectedWithClearMessages) {
  auto bn1 = make_op("BatchNorm1d", {});
  auto bn2 = make_op("BatchNorm2d", {});
  expect_bad_input([&] { bn2->output_shape({{2, 3, 4}}); }, "BatchNorm2d expects an input [N, C, H, W], got [2, 3, 4]");
  expect_bad_input([&] { bn1->output_shape({{2, 3, 4, 5}}); }, "BatchNorm1d expects an input [N, C] or [N, C, L], got [2, 3, 4, 5]");
  expect_bad_input([&] { bn1->output_shape({{2, 3}, {2, 3}}); }, "BatchNorm1d takes 1 input");
  expect_bad_input([] { make_op("BatchNorm1d", {{"eps", 0.0}}); }, "eps must be a positive number");
  expect_bad_input([] { make_op("BatchNorm2d", {{"momentum", 1.5}}); }, "momentum must be in [0, 1]");
  expect_bad_input([] { make_op("BatchNorm2d", {{"epsilon", 1e-3}}); }, "unknown attribute 'epsilon'");

  // One value per channel has no variance to normalise by.
  Tensor single({1, 2}, {1.0f, 2.0f});
  auto params = make_params(*bn1, single.shape(), {1, 1}, {0, 0}, {0, 0}, {1, 1});
  expect_bad_input([&] { run_forward(*bn1, single, params, true); }, "more than one value per channel");
  // Parameters that do not fit the input's channels.
  Tensor x({4, 3});
  expect_bad_input([&] { run_forward(*bn1, x, params, true); }, "parameter weight has shape [2]");
}

}  // namespace
}  // namespace shrink
