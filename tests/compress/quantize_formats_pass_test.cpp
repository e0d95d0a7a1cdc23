// The quantization passes with behaviour of their own: INQ's portions and retraining
// (quant.pow2), binary and ternary networks keeping their first and last layers at 8 bits, binary
// activations, DoReFa's activation and gradient quantizers, and training through each format.
#include "shrink/compress/pass.hpp"
#include "shrink/io/container.hpp"
#include "shrink/nn/weights.hpp"
#include "shrink/train/evaluator.hpp"
#include "support/errors.hpp"
#include "support/trained_mlp.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace shrink {
namespace {

using testing::bad_input_message;

Model mlp() { return testing::blobs_mlp(32); }

// A model trained on the blobs, and the context that fine-tunes on them for one epoch.
struct Trained : testing::TrainedMlp {
  Trained() : TrainedMlp(32) { context.finetune.epochs = 1; }
};

bool is_power_of_two_or_zero(float v) {
  if (v == 0.0f) return true;
  int exponent = 0;
  return std::abs(std::frexp(v, &exponent)) == 0.5f;
}

TEST(QuantPow2, InqFreezesInPortionsRetrainsBetweenThemAndStoresOnlyPowersOfTwo) {
  Trained t;
  const double before = t.accuracy();
  const nlohmann::json section = t.run("quant.pow2", {{"bits", 5}, {"epochs", 1}});
  ASSERT_EQ(section["steps"].size(), 4u);
  EXPECT_EQ(section["steps"][0]["portion"], 0.5);
  EXPECT_EQ(section["steps"][0]["epochs"].size(), 1u) << "retrained after 50%";
  EXPECT_EQ(section["steps"][3]["epochs"].size(), 0u) << "nothing left to retrain after 100%";
  EXPECT_GT(t.accuracy(), before - 0.05);
  for (const Parameter* p : compressible_weights(t.model)) {
    EXPECT_FALSE(p->trainable) << "INQ's result is final";
    EXPECT_GT(section["layers"][p->name]["relative_mse"].get<double>(), 0.0);
  }
  // Read back from the file: every weight is 0 or +-2^n, within 5-bit INQ's 8 exponents.
  const Model back = deserialize_model(serialize_model(t.model), "inq.shrk");
  for (const Parameter* p : compressible_weights(back)) {
    ASSERT_TRUE(p->quantized());
    EXPECT_STREQ(p->quantizer()->format().name, "pow2");
    float largest = 0.0f, smallest = 1e9f;
    for (float v : p->effective()) {
      EXPECT_TRUE(is_power_of_two_or_zero(v)) << p->name << ": " << v;
      if (v != 0.0f) {
        largest = std::max(largest, std::abs(v));
        smallest = std::min(smallest, std::abs(v));
      }
    }
    EXPECT_LE(largest / smallest, 128.0f) << p->name;
    EXPECT_FALSE(p->trainable);
  }
}

TEST(QuantPow2, TheFrozenPortionDoesNotMoveWhileTheRestRetrains) {
  Trained t;
  // Portions 50% then 100%, two epochs of retraining between them: the larger half of each
  // layer is frozen at the level of its trained value and must end there, while the other half
  // retrains first and is quantized from where training took it.
  const Tensor original = t.model.parameter("fc2.weight").value;
  t.run("quant.pow2", {{"bits", 5}, {"epochs", 2}, {"portions", {0.5, 1.0}}});
  const Tensor& after = t.model.parameter("fc2.weight").effective();
  std::vector<int64_t> order(static_cast<size_t>(original.numel()));
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return std::abs(original[a]) > std::abs(original[b]); });
  // The level of the original value under 5-bit INQ's rule, by the range of the layer.
  float largest = 0.0f;
  for (float v : original) largest = std::max(largest, std::abs(v));
  int n1 = std::ilogb(largest);
  if (std::scalbn(largest, -n1) >= 1.5f) ++n1;
  auto level = [&](float w) {
    const float a = std::abs(w);
    if (a < std::ldexp(1.0f, n1 - 8)) return 0.0f;
    int n = std::ilogb(a);
    if (std::scalbn(a, -n) >= 1.5f) ++n;
    return std::copysign(std::ldexp(1.0f, std::clamp(n, n1 - 7, n1)), w);
  };
  int64_t moved_in_second_half = 0;
  for (size_t k = 0; k < order.size(); ++k) {
    const int64_t i = order[k];
    if (k < order.size() / 2) EXPECT_EQ(after[i], level(original[i])) << "frozen at 50%: " << i;
    else moved_in_second_half += after[i] != level(original[i]);
  }
  EXPECT_GT(moved_in_second_half, 0) << "the free half retrained before it was quantized";
}

TEST(QuantPow2, BadOptionsAreClearErrors) {
  EXPECT_EQ(bad_input_message([] { make_pass("quant.pow2", {{"portions", {0.5, 0.75}}}); }),
            "pass quant.pow2: portions must end at 1.0 (every weight quantized), got [0.5,0.75]");
  EXPECT_EQ(bad_input_message([] { make_pass("quant.pow2", {{"portions", {0.75, 0.5, 1.0}}}); }),
            "pass quant.pow2: portions must increase within (0, 1], got [0.75,0.5,1.0]");
  EXPECT_EQ(bad_input_message([] { make_pass("quant.pow2", {{"bits", 9}}); }),
            "pass quant.pow2: quantizer pow2: bits must be in 2..8, got 9");
  Model model = mlp();
  PassContext no_data;
  EXPECT_NE(bad_input_message([&] { make_pass("quant.pow2", {{"epochs", 1}})->run(model, no_data); })
                .find("INQ retrains between portions and needs training data"),
            std::string::npos);
}

TEST(QuantBinary, KeepsTheFirstAndLastLayersAtEightBitsAndFineTunes) {
  Trained t;
  const nlohmann::json section = t.run("quant.binary", {});
  EXPECT_EQ(section["layers"]["fc1.weight"]["format"], "affine");
  EXPECT_EQ(section["layers"]["fc1.weight"]["bits"], 8);
  EXPECT_EQ(section["layers"]["fc2.weight"]["format"], "binary");
  EXPECT_EQ(section["layers"]["fc3.weight"]["bits"], 8);
  t.run("train.finetune", {{"epochs", 3}});
  EXPECT_GT(t.accuracy(), 0.8);
  EXPECT_STREQ(t.model.parameter("fc2.weight").quantizer()->format().name, "binary");
  const Tensor& w = t.model.parameter("fc2.weight").effective();
  for (int64_t o = 0; o < 32; ++o)
    for (int64_t i = 0; i < 32; ++i) EXPECT_EQ(std::abs(w[o * 32 + i]), std::abs(w[o * 32])) << o;
  // Everything binary when asked.
  Trained all;
  all.run("quant.binary", {{"keep_first_last", false}, {"scale", "none"}});
  EXPECT_EQ(std::abs(all.model.parameter("fc1.weight").effective()[0]), 1.0f);
}

TEST(QuantBinary, BinaryActivationsPutASignInFrontAndTheModelStillTrainsAndSaves) {
  Trained t;
  const nlohmann::json section = t.run("quant.binary", {{"activations", true}});
  EXPECT_EQ(section["binary_activations"], nlohmann::json({"fc2"})) << "binarized layers only";
  EXPECT_EQ(t.model.node("fc2").inputs, std::vector<std::string>{"fc2_sign"});
  EXPECT_EQ(t.model.node("fc2_sign").op->type(), "Sign");
  // The ReLU in front of fc2 (sign(relu(x)) would be all +1) became the Sign.
  EXPECT_EQ(t.model.node("fc2_sign").inputs, std::vector<std::string>{"fc1"});
  EXPECT_EQ(t.model.find_node("relu1"), nullptr);
  t.run("train.finetune", {{"epochs", 3}});
  EXPECT_GT(t.accuracy(), 0.6);
  // Again: no second Sign. And the file keeps the graph and the quantizers.
  t.run("quant.binary", {{"activations", true}});
  EXPECT_EQ(t.model.node("fc2").inputs, std::vector<std::string>{"fc2_sign"});
  Model back = deserialize_model(serialize_model(t.model), "b.shrk");
  const Tensor x({3, 8}, 0.5f);
  EXPECT_EQ(back.forward(x), t.model.forward(x));
  EXPECT_NE(bad_input_message([&] { t.run("quant.binary", {{"activations", {"fc1"}}}); })
                .find("activations names 'fc1', which is not a layer this pass binarizes"),
            std::string::npos);
}

TEST(QuantTernary, TwnAndTtqFineTuneAndTtqLearnsItsScales) {
  for (const char* method : {"twn", "ttq"}) {
    SCOPED_TRACE(method);
    Trained t;
    t.run("quant.ternary", {{"method", method}, {"keep_first_last", false}});
    const Tensor before = t.model.parameter("fc2.weight").effective();
    t.run("train.finetune", {{"epochs", 3}});
    EXPECT_GT(t.accuracy(), 0.8);
    const Tensor& after = t.model.parameter("fc2.weight").effective();
    EXPECT_NE(after, before);
    std::set<float> levels(after.begin(), after.end());
    EXPECT_LE(levels.size(), 3u);
    EXPECT_TRUE(levels.count(0.0f));
  }
}

TEST(QuantDoReFa, QuantizesActivationsAndGradientsOfTheLayersAndTrains) {
  Trained t;
  const nlohmann::json section =
      t.run("quant.dorefa", {{"bits", 2}, {"activation_bits", 2}, {"gradient_bits", 4}});
  EXPECT_EQ(section["activation_bits"], 2);
  EXPECT_EQ(t.model.find_node("fc1_act_quant"), nullptr) << "the first layer reads the data";
  EXPECT_EQ(t.model.node("fc2").inputs, std::vector<std::string>{"fc2_act_quant"});
  EXPECT_EQ(t.model.node("fc2_act_quant").op->type(), "DoReFaQuantize");
  EXPECT_EQ(t.model.node("relu1").inputs, std::vector<std::string>{"fc1_grad_quant"});
  EXPECT_EQ(t.model.output_name(), "fc3_grad_quant");
  t.run("train.finetune", {{"epochs", 4}, {"lr", 0.05}});
  EXPECT_GT(t.accuracy(), 0.6);
  const Tensor& w = t.model.parameter("fc2.weight").effective();
  for (float v : w) EXPECT_NEAR(std::nearbyint((v + 1.0f) * 1.5f), (v + 1.0f) * 1.5f, 1e-5f);
  EXPECT_NE(bad_input_message([] { make_pass("quant.dorefa", {{"gradient_bits", 17}}); })
                .find("gradient_bits must be 0 (float) or 1..16"),
            std::string::npos);
}

TEST(QuantHalf, Fp16AndBf16KeepAccuracyAndHalveTheWeights) {
  for (const char* pass : {"quant.fp16", "quant.bf16"}) {
    Trained t;
    const double before = t.accuracy();
    const int64_t fp32 = static_cast<int64_t>(serialize_model(t.model).size());
    t.run(pass, {});
    EXPECT_NEAR(t.accuracy(), before, 0.01) << pass;
    const int64_t half = static_cast<int64_t>(serialize_model(t.model).size());
    EXPECT_LT(half, fp32 - (8 * 32 + 32 * 32 + 32 * 4) * 2 + 200) << pass;
  }
}

}  // namespace
}  // namespace shrink
