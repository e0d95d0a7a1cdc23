// A quantized parameter in a model: the forward pass reads the effective weight, cached until
// the latent weight changes; gradients reach the latent weight through the quantizer; pruning
// masks compose; copies carry the quantizer.
#include "shrink/nn/affine_quantizer.hpp"
#include "shrink/nn/model.hpp"
#include "shrink/nn/quantizer.hpp"
#include "shrink/train/optimizer.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace shrink {
namespace {

Model two_layer_mlp() {
  Model model = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {6}}}},
       {"nodes",
        {{{"name", "fc1"}, {"type", "Linear"}, {"attributes", {{"out_features", 5}}}},
         {{"name", "relu"}, {"type", "ReLU"}},
         {{"name", "fc2"}, {"type", "Linear"}, {"attributes", {{"out_features", 3}}}}}}});
  model.initialize(7);
  return model;
}

Tensor batch(int64_t n, int64_t features, uint64_t seed) {
  Rng rng(seed);
  Tensor x({n, features});
  for (float& v : x) v = rng.uniform(-1.0f, 1.0f);
  return x;
}

void quantize(Parameter& p, const nlohmann::json& options) {
  p.set_quantizer(make_quantizer("affine", options, p.value));
}

TEST(QuantizedParameter, TheForwardPassUsesTheEffectiveWeight) {
  Model quantized = two_layer_mlp();
  Parameter& w = quantized.parameter("fc1.weight");
  quantize(w, {{"bits", 2}});
  // A plain model holding the effective weights computes the same outputs.
  Model plain = two_layer_mlp();
  plain.parameter("fc1.weight").value = w.effective();
  EXPECT_NE(w.effective(), w.value) << "2 bits really changes the weights";
  const Tensor x = batch(4, 6, 1);
  const Tensor a = quantized.forward(x);
  const Tensor b = plain.forward(x);
  EXPECT_EQ(a, b);
}

TEST(QuantizedParameter, InferenceReusesTheEffectiveWeightUntilTheLatentChanges) {
  Model model = two_layer_mlp();
  Parameter& w = model.parameter("fc1.weight");
  // A plain parameter has a version too (the sparse kernels cache compressed rows by it): the
  // same until the weight is marked changed.
  const uint64_t plain = w.effective_version();
  EXPECT_NE(plain, 0u);
  EXPECT_EQ(w.effective_version(), plain);
  w.mark_changed();
  EXPECT_NE(w.effective_version(), plain);
  quantize(w, {{"bits", 4}});
  const Tensor x = batch(2, 6, 2);
  model.forward(x);
  const uint64_t version = w.effective_version();
  const float* cached = w.effective().data();
  model.forward(x);
  model.forward(x);
  EXPECT_EQ(w.effective_version(), version) << "no dequantization per inference pass";
  EXPECT_EQ(w.effective().data(), cached);
  // A hand edit is seen after mark_changed.
  w.value[0] = 0.9f;
  w.mark_changed();
  EXPECT_NE(w.effective_version(), version);
  EXPECT_NEAR(w.effective()[0], 0.9f, 0.2f);
  // A training pass always requantizes.
  const uint64_t before_training = w.effective_version();
  model.forward(x, /*training=*/true);
  EXPECT_NE(w.effective_version(), before_training);
}

TEST(QuantizedParameter, GradientsReachTheLatentWeightStraightThrough) {
  Model quantized = two_layer_mlp();
  Parameter& w = quantized.parameter("fc1.weight");
  quantize(w, {{"bits", 3}, {"per_channel", true}});
  Model plain = two_layer_mlp();
  plain.parameter("fc1.weight").value = w.effective();
  const Tensor x = batch(8, 6, 3);
  Tensor g(quantized.forward(x, true).shape(), 0.0f);
  for (int64_t i = 0; i < g.numel(); ++i) g[i] = 0.1f * static_cast<float>(i % 7) - 0.3f;
  plain.forward(x, true);
  for (bool accumulate : {false, true}) {
    quantized.zero_grad();
    plain.zero_grad();
    quantized.backward(g, accumulate);
    plain.backward(g, accumulate);
    // Min/max ranges clip nothing: d loss / d latent = d loss / d effective weight.
    EXPECT_EQ(w.grad, plain.parameter("fc1.weight").grad) << accumulate;
    EXPECT_EQ(quantized.parameter("fc2.weight").grad, plain.parameter("fc2.weight").grad);
  }
  // Accumulating a second pass adds only that pass's share, through the quantizer once.
  const Tensor once = w.grad;
  quantized.backward(g, /*accumulate=*/true);
  for (int64_t i = 0; i < once.numel(); ++i) EXPECT_FLOAT_EQ(w.grad[i], 2.0f * once[i]);
}

TEST(QuantizedParameter, ClippedWeightsGetNoGradient) {
  Model quantized = two_layer_mlp();
  Parameter& w = quantized.parameter("fc1.weight");
  // 29 weights of +-0.1 and one of 0.35: at 2 bits the MSE range clips the outlier, so that
  // the others get a level of their own.
  for (int64_t i = 0; i < w.value.numel(); ++i) w.value[i] = i % 2 ? 0.1f : -0.1f;
  w.value[3] = 0.35f;
  quantize(w, {{"bits", 2}, {"symmetric", true}, {"range", "mse"}});
  ASSERT_LT(dynamic_cast<const AffineQuantizer&>(*w.quantizer()).clip_ratio(0), 1.0f);
  ASSERT_LT(w.effective()[3], 0.3f);
  Model plain = two_layer_mlp();
  plain.parameter("fc1.weight").value = w.effective();
  const Tensor x = batch(4, 6, 4);
  Tensor g(quantized.forward(x, true).shape(), 1.0f);
  plain.forward(x, true);
  quantized.backward(g, false);
  plain.backward(g, false);
  const Tensor& expected = plain.parameter("fc1.weight").grad;
  ASSERT_NE(expected[3], 0.0f);
  for (int64_t i = 0; i < w.grad.numel(); ++i)
    EXPECT_EQ(w.grad[i], i == 3 ? 0.0f : expected[i]) << i;
}

TEST(QuantizedParameter, APrunedZeroStaysZero) {
  Model model = two_layer_mlp();
  Parameter& w = model.parameter("fc1.weight");
  w.mask = Tensor(w.value.shape(), 1.0f);
  for (int64_t i = 0; i < w.value.numel(); i += 3) w.mask[i] = 0.0f;
  w.apply_mask();
  quantize(w, {{"bits", 2}, {"symmetric", false}});
  auto optimizer = make_optimizer("sgd", {{"lr", 0.1}, {"momentum", 0.9}});
  const Tensor x = batch(8, 6, 5);
  for (int step = 0; step < 5; ++step) {
    Tensor g(model.forward(x, true).shape(), 1.0f);
    model.backward(g, false);
    optimizer->step(model);
  }
  const Tensor& e = w.effective();
  for (int64_t i = 0; i < e.numel(); i += 3) {
    EXPECT_EQ(e[i], 0.0f) << i;
    EXPECT_EQ(w.value[i], 0.0f) << i;
  }
}

TEST(QuantizedParameter, TheOptimizerMovesTheLatentWeightAndTheEffectiveOneFollows) {
  Model model = two_layer_mlp();
  Parameter& w = model.parameter("fc1.weight");
  quantize(w, {{"bits", 8}});
  const Tensor latent = w.value;
  const Tensor x = batch(8, 6, 6);
  Tensor g(model.forward(x, true).shape(), 1.0f);
  model.backward(g, false);
  const uint64_t version = w.effective_version();
  make_optimizer("sgd", {{"lr", 0.5}})->step(model);
  EXPECT_NE(w.value, latent) << "the latent fp32 weight is what trains";
  EXPECT_NE(w.effective_version(), version) << "the step invalidates the cached weight";
  for (int64_t i = 0; i < w.value.numel(); ++i)
    EXPECT_NEAR(w.effective()[i], w.value[i], 0.01f);
}

TEST(QuantizedParameter, CopiesAndClonesCarryTheQuantizer) {
  Model model = two_layer_mlp();
  quantize(model.parameter("fc2.weight"), {{"bits", 5}, {"per_channel", true}});
  const Parameter copy = model.parameter("fc2.weight");
  ASSERT_TRUE(copy.quantized());
  EXPECT_NE(copy.quantizer(), model.parameter("fc2.weight").quantizer()) << "a deep copy";
  EXPECT_EQ(copy.quantizer()->options(), model.parameter("fc2.weight").quantizer()->options());
  EXPECT_EQ(copy.effective(), model.parameter("fc2.weight").effective());
  Model clone = model.clone();
  ASSERT_TRUE(clone.parameter("fc2.weight").quantized());
  const Tensor x = batch(3, 6, 8);
  EXPECT_EQ(clone.forward(x), model.forward(x));
  model.parameter("fc2.weight").set_quantizer(nullptr);
  EXPECT_FALSE(model.parameter("fc2.weight").quantized());
  EXPECT_TRUE(clone.parameter("fc2.weight").quantized());
}

}  // namespace
}  // namespace shrink
