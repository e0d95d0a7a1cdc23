// prune.obs: the saliency w²/(2[F⁻¹]_qq) and the compensating update of the survivors, both
// against a direct computation from per-sample gradients (with more samples than weights per
// row, and with fewer, where the pass goes through the Woodbury identity), and one-shot pruning
// of a trained network that loses less than magnitude pruning.
#include "shrink/compress/pass.hpp"
#include "shrink/nn/loss.hpp"
#include "shrink/nn/weights.hpp"
#include "support/errors.hpp"

#include <Eigen/Dense>
#include <gtest/gtest.h>

#include <cmath>

namespace shrink {
namespace {

// 4 classes of Gaussian blobs in 12 dimensions.
Dataset blobs(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> features;
  std::vector<int32_t> labels;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t label = static_cast<int32_t>(i % 4);
    for (int f = 0; f < 12; ++f) features.push_back(rng.normal(f % 4 == label ? 1.0f : 0.0f, 0.8f));
    labels.push_back(label);
  }
  return Dataset::from_floats("blobs", {12}, std::move(features), std::move(labels), 4);
}

Model mlp(uint64_t seed) {
  Model model = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {12}}}},
       {"nodes",
        {{{"name", "fc1"}, {"type", "Linear"}, {"attributes", {{"out_features", 16}}}},
         {{"name", "relu"}, {"type", "ReLU"}},
         {{"name", "fc2"}, {"type", "Linear"}, {"attributes", {{"out_features", 4}}}}}}});
  model.initialize(seed);
  return model;
}

using Rows = std::vector<Eigen::MatrixXd>;  // per weight row: N x k per-sample gradients

// Per-sample gradients of each row of `name`, one backward pass per sample (inference mode).
Rows per_sample_gradients(Model& model, const Dataset& data, const std::string& name) {
  const Tensor& w = model.parameter(name).value;
  const int64_t rows = w.dim(0), k = w.numel() / rows, n = data.size();
  Rows u(static_cast<size_t>(rows), Eigen::MatrixXd(n, k));
  for (int64_t s = 0; s < n; ++s) {
    Tensor x, grad;
    std::vector<int32_t> labels;
    data.gather({s}, x, labels);
    cross_entropy(model.forward(x, false), labels, 0.0f, &grad);
    model.backward(grad, false);
    const Tensor& g = model.parameter(name).grad;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < k; ++j) u[static_cast<size_t>(r)](s, j) = g[r * k + j];
  }
  return u;
}

// The damped empirical Fisher of one row: λI + UᵀU/N, λ = damping · mean of its diagonal.
Eigen::MatrixXd damped_fisher(const Eigen::MatrixXd& u, double damping) {
  Eigen::MatrixXd f = u.transpose() * u / static_cast<double>(u.rows());
  const double lambda = damping * f.diagonal().mean();
  f.diagonal().array() += lambda;
  return f;
}

struct Case {
  int64_t samples;  // 64 > 12 inputs per fc1 row: direct; 8 < 12 (and < 9 survivors): Woodbury
  double damping;
  double sparsity;
};

TEST(ObsPruner, ScoresAndUpdateMatchADirectComputation) {
  for (const Case c : {Case{64, 0.01, 0.5}, Case{8, 0.1, 0.25}}) {
    const Dataset data = blobs(c.samples, 1);
    Model model = mlp(2);
    Model reference = model.clone();
    const Rows u = per_sample_gradients(reference, data, "fc1.weight");
    const Tensor w = model.parameter("fc1.weight").value;
    const int64_t rows = 16, k = 12;

    // Per layer, so each row's pruned set follows from this layer's scores alone.
    PassContext context;
    context.train = &data;
    make_pass("prune.obs", {{"sparsity", c.sparsity}, {"scope", "layer"}, {"damping", c.damping},
                            {"exclude", {"fc2"}}})
        ->run(model, context);
    const Parameter& pruned = model.parameter("fc1.weight");

    std::vector<double> scores;
    for (int64_t r = 0; r < rows; ++r) {
      const Eigen::MatrixXd inverse = damped_fisher(u[static_cast<size_t>(r)], c.damping).inverse();
      for (int64_t j = 0; j < k; ++j) scores.push_back(w[r * k + j] * w[r * k + j] / (2 * inverse(j, j)));
    }
    double highest_pruned = -1, lowest_kept = 1e300;
    for (int64_t i = 0; i < rows * k; ++i) {
      if (pruned.mask[i] == 0.0f) highest_pruned = std::max(highest_pruned, scores[static_cast<size_t>(i)]);
      else lowest_kept = std::min(lowest_kept, scores[static_cast<size_t>(i)]);
    }
    EXPECT_LE(highest_pruned, lowest_kept * (1 + 1e-3)) << c.samples << " samples";

    // The survivors R moved by F_RR⁻¹ F_RQ w_Q; the removed Q are zero.
    double moved = 0.0;
    for (int64_t r = 0; r < rows; ++r) {
      const Eigen::MatrixXd f = damped_fisher(u[static_cast<size_t>(r)], c.damping);
      std::vector<int64_t> kept, removed;
      for (int64_t j = 0; j < k; ++j) (pruned.mask[r * k + j] != 0.0f ? kept : removed).push_back(j);
      for (int64_t j : removed) EXPECT_EQ(pruned.value[r * k + j], 0.0f);
      if (kept.empty()) continue;
      Eigen::MatrixXd frr(kept.size(), kept.size()), frq(kept.size(), removed.size());
      Eigen::VectorXd wq(removed.size());
      for (size_t a = 0; a < kept.size(); ++a) {
        for (size_t b = 0; b < kept.size(); ++b) frr(a, b) = f(kept[a], kept[b]);
        for (size_t b = 0; b < removed.size(); ++b) frq(a, b) = f(kept[a], removed[b]);
      }
      for (size_t b = 0; b < removed.size(); ++b) wq[b] = w[r * k + removed[b]];
      const Eigen::VectorXd step = frr.ldlt().solve(frq * wq);
      for (size_t a = 0; a < kept.size(); ++a) {
        const double expected = w[r * k + kept[a]] + step[a];
        EXPECT_NEAR(pruned.value[r * k + kept[a]], expected, 1e-4 + 1e-3 * std::abs(expected))
            << c.samples << " samples, row " << r << " weight " << kept[a];
        moved += std::abs(step[a]);
      }
    }
    EXPECT_GT(moved, 1e-3) << "the update must move the survivors";
    // fc2 is excluded: untouched.
    EXPECT_EQ(weight_sparsity(model).zeros, static_cast<int64_t>(c.sparsity * rows * k));
  }
}

// On a trained network, one-shot OBS at high sparsity keeps the loss lower than magnitude.
TEST(ObsPruner, LosesLessThanMagnitudeWithoutFineTuning) {
  const Dataset data = blobs(512, 3);
  Model trained = mlp(4);
  TrainConfig config;
  config.epochs = 20;
  config.lr = 0.05f;
  train(trained, data, config);
  Tensor x;
  std::vector<int32_t> labels;
  std::vector<int64_t> all;
  for (int64_t i = 0; i < data.size(); ++i) all.push_back(i);
  data.gather(all, x, labels);
  auto loss_after = [&](const std::string& pass) {
    Model model = trained.clone();
    PassContext context;
    context.train = &data;
    make_pass(pass, {{"sparsity", 0.75}, {"scope", "layer"}})->run(model, context);
    return cross_entropy(model.forward(x, false), labels);
  };
  const double dense = cross_entropy(trained.forward(x, false), labels);
  const double magnitude = loss_after("prune.magnitude");
  const double obs = loss_after("prune.obs");
  EXPECT_LT(obs, magnitude) << "dense " << dense;
  EXPECT_LT(obs - dense, 0.75 * (magnitude - dense)) << "dense " << dense;
}

TEST(ObsPruner, ChecksItsOptionsAndItsLayers) {
  EXPECT_NE(testing::bad_input_message([] { make_pass("prune.obs", {{"damping", 0}}); })
                .find("damping must be a positive number"),
            std::string::npos);
  EXPECT_NE(testing::bad_input_message([] { make_pass("prune.obs", {{"samples", -1}}); })
                .find("samples must be positive"),
            std::string::npos);
  Model model = mlp(1);
  PassContext context;
  EXPECT_NE(testing::bad_input_message([&] { make_pass("prune.obs", {})->run(model, context); })
                .find("training data"),
            std::string::npos);
}

}  // namespace
}  // namespace shrink
