// Learned step sizes (LSQ, Esser et al. 2020) in int8 quantization-aware training
// (quant.int8 with lsq): the step gradient of the activations' QuantizeLinear ->
// DequantizeLinear pair (per tensor) and of the weights' affine quantizer (per channel) against
// finite differences, inside the codes and clipped at either end; fine-tuning that moves the
// steps but never decays them; the file keeping the learned steps; and the int8 execution of
// the trained model computing what its fake-quantized graph computes.
//
// Rounding has a zero derivative almost everywhere, so LSQ defines the step's gradient through
// the straight-through estimator: round(v/s) counts as v/s + c, c = round(v/s) - v/s held at the
// current step. The finite differences below are taken of that function,
//   v^(s) = s * clamp(v/s + c, -Q_N, Q_P)   (= v + s c inside, s Q_P or -s Q_N clipped),
// whose derivative is LSQ's round(v/s) - v/s inside and Q_P / -Q_N when clipped; the gradient
// the code gives is that times g = 1 / sqrt(N Q_P).
#include "shrink/compress/pass.hpp"
#include "shrink/io/container.hpp"
#include "shrink/io/onnx.hpp"
#include "shrink/nn/affine_quantizer.hpp"
#include "shrink/nn/int8_execution.hpp"
#include "shrink/report/summary.hpp"
#include "shrink/train/optimizer.hpp"
#include "support/errors.hpp"
#include "support/toy_images.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace shrink {
namespace {

using Json = nlohmann::json;
using testing::bad_input_message;
using testing::first_samples;
using testing::quadrants;

// The straight-through surrogate of one fake-quantized value at step s, with the rounding
// offset c taken at step s0; codes relative to the zero point span [-negative, positive].
double surrogate(double v, double s, double s0, double negative, double positive) {
  const double c = std::nearbyint(v / s0) - v / s0;
  return s * std::clamp(v / s + c, -negative, positive);
}

// d/ds of sum_i weight_i * surrogate(v_i, s) at s0, by central differences.
double surrogate_slope(const std::vector<float>& v, const std::vector<float>& weight, double s0,
                       double negative, double positive) {
  const double h = 1e-4 * s0;
  double up = 0.0, down = 0.0;
  for (size_t i = 0; i < v.size(); ++i) {
    up += weight[i] * surrogate(v[i], s0 + h, s0, negative, positive);
    down += weight[i] * surrogate(v[i], s0 - h, s0, negative, positive);
  }
  return (up - down) / (2.0 * h);
}

// Values of one of three kinds for codes spanning [lo, hi] (real units): strictly inside,
// below lo, above hi, each kept clear of the clipping edge and of rounding ties.
std::vector<float> values(const char* kind, int64_t n, float lo, float hi, float step, Rng& rng) {
  std::vector<float> v;
  while (static_cast<int64_t>(v.size()) < n) {
    const std::string k = kind;
    float x = k == "inside" ? rng.uniform(lo + step, hi - step)
              : k == "low"  ? rng.uniform(lo - 3.0f, lo - step)
                            : rng.uniform(hi + step, hi + 3.0f);
    const float frac = x / step - std::floor(x / step);
    if (std::fabs(frac - 0.5f) < 0.05f) continue;  // not on a tie: rounding is unambiguous
    v.push_back(x);
  }
  return v;
}

// x -> QuantizeLinear -> DequantizeLinear with a learned step, uint8 with zero point 100.
Model learned_pair(int64_t features, float step) {
  const Json attributes = {{"scale", step}, {"zero_point", 100}, {"type", "uint8"}, {"learned_step", true}};
  Model model = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {features}}}},
       {"nodes",
        {{{"name", "q"}, {"type", "QuantizeLinear"}, {"attributes", attributes}},
         {{"name", "dq"}, {"type", "DequantizeLinear"}, {"attributes", attributes}}}}});
  model.parameter("q.step").value.fill(step);
  return model;
}

TEST(LearnedStep, ActivationPairStepGradientMatchesFiniteDifferencesTimesG) {
  const int64_t batch = 3, features = 8;
  const float s = 0.05f;
  const double negative = 100.0, positive = 155.0;  // codes 0..255 around zero point 100
  const float lo = static_cast<float>(-negative) * s, hi = static_cast<float>(positive) * s;
  Rng rng(11);
  for (const char* kind : {"inside", "low", "high"}) {
    Model model = learned_pair(features, s);
    // The DequantizeLinear shares the QuantizeLinear's step: one parameter, not two.
    ASSERT_EQ(model.parameters().size(), 1u);
    EXPECT_EQ(model.node("dq").parameters, (std::vector<std::string>{"q.step"}));
    const std::vector<float> v = values(kind, batch * features, lo, hi, s, rng);
    std::vector<float> upstream(v.size());
    for (float& u : upstream) u = rng.uniform(-1.0f, 1.0f);
    Tensor x({batch, features}, v);
    model.forward(x, true);
    model.backward(Tensor({batch, features}, upstream));
    const double g = 1.0 / std::sqrt(static_cast<double>(features) * positive);
    const double expected = g * surrogate_slope(v, upstream, s, negative, positive);
    const double got = model.parameter("q.step").grad[0];
    EXPECT_NEAR(got, expected, 1e-3 * std::fabs(expected) + 1e-6) << kind;
    // Without g the gradient would be sqrt(8 * 155) ~ 35 times larger: far outside.
    EXPECT_GT(std::fabs(expected / g - got), 0.5 * std::fabs(expected)) << kind;
  }
}

TEST(LearnedStep, ActivationInputGradientIsStraightThroughInsideAndZeroOutside) {
  const float s = 0.05f;
  Model model = learned_pair(4, s);
  // Two inside the codes [-5, 7.75], one below, one above.
  const Tensor x({1, 4}, {0.3f, -4.0f, -6.0f, 9.0f});
  model.forward(x, true);
  // The QuantizeLinear's backward, handed what the DequantizeLinear's gives it: d loss / d v^
  // times s.
  const std::vector<float> upstream = {0.5f, -1.0f, 2.0f, 3.0f};
  const Node& q = model.node("q");
  Tensor codes_grad({1, 4});
  for (int i = 0; i < 4; ++i) codes_grad[i] = upstream[static_cast<size_t>(i)] * s;
  model.parameter("q.step").grad = Tensor({1});
  Tensor dx;
  OpArgs args;
  args.inputs = {&x};
  args.params = {&model.parameter("q.step")};
  args.training = true;
  q.op->backward(args, model.value("q"), codes_grad, {&dx});
  EXPECT_FLOAT_EQ(dx[0], 0.5f);
  EXPECT_FLOAT_EQ(dx[1], -1.0f);
  EXPECT_EQ(dx[2], 0.0f);
  EXPECT_EQ(dx[3], 0.0f);
}

TEST(LearnedStep, WeightStepGradientPerChannelMatchesFiniteDifferencesTimesG) {
  const int64_t channels = 3, per = 40;
  Rng rng(5);
  Tensor weight({channels, per});
  for (float& w : weight) w = rng.normal(0.0f, 1.0f);
  auto quantizer = make_quantizer(
      "affine", {{"bits", 8}, {"symmetric", true}, {"per_channel", true}, {"lsq", true}}, weight);
  auto& affine = dynamic_cast<AffineQuantizer&>(*quantizer);
  ASSERT_EQ(affine.state_parameters().size(), 1u);
  Parameter& steps = *affine.state_parameters()[0];
  // The steps start at the min/max scales, max|w_c| / 127.
  for (int64_t c = 0; c < channels; ++c) {
    float largest = 0.0f;
    for (int64_t i = c * per; i < (c + 1) * per; ++i) largest = std::max(largest, std::fabs(weight[i]));
    EXPECT_FLOAT_EQ(steps.value[c], largest / 127.0f);
  }
  // Channel 0 clips nothing (its step 5% above min/max), channel 1 clips high, channel 2 low: a
  // third of the step clips the largest weights, and the weights are shifted to one side.
  for (int64_t i = per; i < 2 * per; ++i) weight[i] = std::fabs(weight[i]) + 0.2f;
  for (int64_t i = 2 * per; i < 3 * per; ++i) weight[i] = -std::fabs(weight[i]) - 0.2f;
  for (int64_t c = 0; c < channels; ++c) {
    float largest = 0.0f;
    for (int64_t i = c * per; i < (c + 1) * per; ++i) largest = std::max(largest, std::fabs(weight[i]));
    steps.value[c] = c == 0 ? largest / 127.0f * 1.05f : largest / 127.0f / 3.0f;
    // Away from the kinks of the surrogate, where a difference quotient straddles two slopes:
    // the half code beyond the edge (|w/s| in [126.5, 127.5] rounds to the last code) and ties.
    for (int64_t i = c * per; i < (c + 1) * per; ++i) {
      const float ratio = weight[i] / steps.value[c];
      if (std::fabs(ratio) > 126.3f && std::fabs(ratio) < 127.7f) weight[i] *= 0.97f;
      const float r = weight[i] / steps.value[c];
      if (std::fabs(r - std::floor(r) - 0.5f) < 0.05f) weight[i] += 0.2f * steps.value[c];
    }
  }
  Tensor effective(weight.shape());
  quantizer->follow(weight, Tensor());
  quantizer->fake_quantize(weight, effective);
  Tensor grad(weight.shape());
  for (float& g : grad) g = rng.uniform(-1.0f, 1.0f);
  const Tensor upstream = grad;
  steps.grad = Tensor(steps.value.shape());
  quantizer->backward(weight, grad);
  const double g = 1.0 / std::sqrt(static_cast<double>(per) * 127.0);
  for (int64_t c = 0; c < channels; ++c) {
    const std::vector<float> w(weight.data() + c * per, weight.data() + (c + 1) * per);
    const std::vector<float> u(upstream.data() + c * per, upstream.data() + (c + 1) * per);
    const double expected = g * surrogate_slope(w, u, steps.value[c], 127.0, 127.0);
    EXPECT_NEAR(steps.grad[c], expected, 1e-3 * std::fabs(expected) + 1e-6) << "channel " << c;
    EXPECT_GT(std::fabs(expected / g - steps.grad[c]), 0.5 * std::fabs(expected)) << "channel " << c;
    int64_t clipped = 0;
    for (int64_t i = c * per; i < (c + 1) * per; ++i) {
      const float ratio = weight[i] / steps.value[c];
      const bool inside = ratio >= -127.0f && ratio <= 127.0f;
      clipped += !inside;
      EXPECT_EQ(grad[i], inside ? upstream[i] : 0.0f) << "element " << i;
    }
    if (c > 0) EXPECT_GT(clipped, 0) << "channel " << c << " was meant to clip";
    else EXPECT_EQ(clipped, 0);
  }
}

// conv -> ReLU -> pool -> flatten -> fc1 -> ReLU -> fc2.
Model small_cnn() {
  Model model = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {1, 8, 8}}}},
       {"nodes",
        {{{"name", "conv"}, {"type", "Conv2d"}, {"attributes", {{"out_channels", 6}, {"kernel_size", 3}, {"padding", 1}}}},
         {{"name", "relu"}, {"type", "ReLU"}},
         {{"name", "pool"}, {"type", "MaxPool2d"}, {"attributes", {{"kernel_size", 2}}}},
         {{"name", "flatten"}, {"type", "Flatten"}},
         {{"name", "fc1"}, {"type", "Linear"}, {"attributes", {{"out_features", 12}}}},
         {{"name", "relu1"}, {"type", "ReLU"}},
         {{"name", "fc2"}, {"type", "Linear"}, {"attributes", {{"out_features", 4}}}}}}});
  model.initialize(3);
  return model;
}

const char* const kLayers[] = {"conv", "fc1", "fc2"};

// The learned steps of a model: each activation's, then each weight's per channel.
std::vector<float> steps_of(Model& model) {
  std::vector<float> steps;
  for (const char* layer : kLayers) steps.push_back(model.parameter(std::string(layer) + "_quantize.step").value[0]);
  for (const char* layer : kLayers) {
    const auto& affine = dynamic_cast<const AffineQuantizer&>(*model.parameter(std::string(layer) + ".weight").quantizer());
    for (int64_t c = 0; c < affine.channels(); ++c) steps.push_back(affine.params(c).scale);
  }
  return steps;
}

// quant.int8 with lsq, then one epoch of fine-tuning (with weight decay, which the steps
// escape).
Model lsq_trained(const Dataset& data, std::vector<float>* calibrated = nullptr) {
  Model model = small_cnn();
  PassContext context;
  context.train = &data;
  make_pass("quant.int8", {{"batches", 2}, {"batch", 64}, {"lsq", true}, {"reduce_range", "off"}})
      ->run(model, context);
  if (calibrated) *calibrated = steps_of(model);
  make_pass("train.finetune", {{"epochs", 1}, {"lr", 0.05}, {"weight_decay", 0.01}})->run(model, context);
  return model;
}

double relative_error(const Tensor& reference, const Tensor& other) {
  double signal = 0.0, noise = 0.0;
  for (int64_t i = 0; i < reference.numel(); ++i) {
    signal += double(reference[i]) * reference[i];
    noise += (double(reference[i]) - other[i]) * (double(reference[i]) - other[i]);
  }
  return std::sqrt(noise / signal);
}

TEST(LearnedStep, FineTuningLearnsTheStepsAndTheFileKeepsThem) {
  const Dataset data = quadrants(512, 4);
  std::vector<float> calibrated;
  Model model = lsq_trained(data, &calibrated);
  const std::vector<float> learned = steps_of(model);
  ASSERT_EQ(learned.size(), calibrated.size());
  for (size_t i = 0; i < 3; ++i) EXPECT_NE(learned[i], calibrated[i]) << "activation step " << i;
  size_t moved = 0;
  for (size_t i = 3; i < learned.size(); ++i) moved += learned[i] != calibrated[i];
  EXPECT_GT(moved, (learned.size() - 3) * 9 / 10) << "weight steps that moved";
  for (const char* layer : kLayers) {
    const std::string name = layer;
    // The QuantizeLinear and DequantizeLinear hold the step they last ran with, the same one.
    const Json attributes = model.node(name + "_quantize").op->attributes();
    EXPECT_EQ(attributes, model.node(name + "_dequantize").op->attributes());
    EXPECT_EQ(attributes["scale"].get<float>(), model.parameter(name + "_quantize.step").value[0]);
    EXPECT_EQ(attributes["learned_step"], true);
  }
  // The file holds the learned steps: the activations' in their nodes (and step parameter),
  // the weights' as the affine scales their codes are stored with.
  Model loaded = deserialize_model(serialize_model(model), "lsq model");
  EXPECT_EQ(steps_of(loaded), learned);
  for (const char* layer : kLayers) {
    const std::string name = layer;
    EXPECT_EQ(loaded.node(name + "_quantize").op->attributes(), model.node(name + "_quantize").op->attributes());
    EXPECT_TRUE(dynamic_cast<const AffineQuantizer&>(*loaded.parameter(name + ".weight").quantizer()).learned_steps());
  }
  const Tensor x = first_samples(data, 64);
  EXPECT_EQ(loaded.forward(x), model.forward(x));
  // Summaries (inspect, reports) count the shared step once, at its QuantizeLinear.
  int64_t parameters = 0;
  for (const Parameter* p : model.parameters()) parameters += p->value.numel();
  EXPECT_EQ(summarize(model, {}, 0).parameters, parameters);
}

TEST(LearnedStep, WeightDecaySparesTheSteps) {
  EXPECT_FALSE(Optimizer::decays("fc1_quantize.step"));
  EXPECT_FALSE(Optimizer::decays("fc1.weight:step"));
  EXPECT_TRUE(Optimizer::decays("fc1.weight"));
  EXPECT_TRUE(Optimizer::decays("step"));
  Model model = learned_pair(2, 0.5f);
  Parameter& step = model.parameter("q.step");
  step.grad = Tensor(step.value.shape());  // zero gradient: only decay could move it
  Sgd sgd({.lr = 0.1f, .momentum = 0.0f, .dampening = 0.0f, .weight_decay = 0.5f, .nesterov = false});
  sgd.step(model);
  EXPECT_EQ(step.value[0], 0.5f);
}

TEST(LearnedStep, Int8ExecutionOfTheTrainedModelGivesItsFakeQuantizedPredictions) {
  const Dataset data = quadrants(1024, 8);
  Model model = lsq_trained(data);
  ASSERT_EQ(plan_int8_execution(model).size(), 3u);
  Model lowered = lower_to_int8(model);
  EXPECT_GE(testing::prediction_agreement(model, lowered, data, 1024), 0.995);
}

// The int8 lowering and the ONNX export read the learned step itself, not the "scale" the last
// forward pass copied from it: right after an optimizer step (here: steps set by hand, no
// forward pass since) they compute what the next forward pass of the QDQ graph computes.
TEST(LearnedStep, LoweringAndExportTakeTheCurrentStepBeforeAnyForwardPass) {
  const Dataset data = quadrants(256, 9);
  Model model = lsq_trained(data);
  const Tensor x = first_samples(data, 256);
  const Tensor before = model.forward(x);
  for (const char* layer : kLayers) model.parameter(std::string(layer) + "_quantize.step").value[0] *= 0.05f;
  ASSERT_NE(model.node("fc1_quantize").op->attributes()["scale"].get<float>(),
            model.parameter("fc1_quantize.step").value[0]) << "no forward pass copied the steps yet";
  Model lowered = lower_to_int8(model);
  Model exported = load_onnx_bytes(save_onnx_bytes(model), "lsq.onnx");
  const Tensor after = model.forward(x);  // copies the new steps into the attributes
  ASSERT_GT(relative_error(before, after), 0.2) << "the new steps change the model";
  EXPECT_LT(relative_error(after, lowered.forward(x)), 0.02);
  EXPECT_LT(relative_error(after, exported.forward(x)), 1e-5);
}

TEST(LearnedStep, BadGraphsAreNamed) {
  // A DequantizeLinear with a learned step shares the step of the node it reads: the model input
  // has none.
  const Json learned = {{"scale", 0.1}, {"learned_step", true}};
  EXPECT_NE(bad_input_message([&] {
              Model::from_graph_json({{"input", {{"name", "x"}, {"shape", {4}}}},
                                      {"nodes", {{{"name", "dq"}, {"type", "DequantizeLinear"}, {"attributes", learned}}}}});
            }).find("reads parameter 'x.step' of its input, which has none by that name"),
            std::string::npos);
  EXPECT_NE(bad_input_message([&] {
              make_op("QuantizeLinear", {{"scale", 0.1}, {"learned_step", "yes"}});
            }).find("attribute 'learned_step' must be true or false, got \"yes\""),
            std::string::npos);
  Model model = learned_pair(2, 0.1f);
  model.parameter("q.step").value[0] = NAN;
  EXPECT_NE(bad_input_message([&] { model.forward(Tensor({1, 2})); }).find("the learned step is nan"),
            std::string::npos);
}

TEST(LearnedStep, WithoutLsqTheScalesAreFixedAttributes) {
  const Dataset data = quadrants(128, 2);
  Model model = small_cnn();
  PassContext context;
  context.train = &data;
  const Json options = {{"batches", 1}, {"batch", 64}};
  make_pass("quant.int8", options)->run(model, context);
  EXPECT_EQ(model.find_parameter("conv_quantize.step"), nullptr);
  EXPECT_FALSE(model.node("conv_quantize").op->attributes().contains("learned_step"));
  EXPECT_TRUE(model.parameter("conv.weight").quantizer()->state_parameters().empty());
  EXPECT_EQ(context.sections.at(0)["lsq"], false);
}

}  // namespace
}  // namespace shrink
