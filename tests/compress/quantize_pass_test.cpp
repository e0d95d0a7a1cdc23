// The quant.* passes' shared behaviour, through quant.affine: which weights they quantize
// (exclude, layer_bits), the report, options that fail before any work, and fine-tuning that
// keeps the weights quantized.
#include "shrink/compress/pass.hpp"
#include "shrink/nn/affine_quantizer.hpp"
#include "shrink/nn/weights.hpp"
#include "support/errors.hpp"
#include "support/small_models.hpp"

#include <gtest/gtest.h>

namespace shrink {
namespace {

using testing::bad_input_message;

Model small_mlp() { return testing::linear_relu_chain({16, 32, 16, 4}, 1); }

nlohmann::json run(Model& model, const nlohmann::json& options) {
  PassContext context;
  make_pass("quant.affine", options)->run(model, context);
  return context.sections.at(0);
}

TEST(QuantAffine, QuantizesEveryWeightAndReportsEachLayer) {
  Model model = small_mlp();
  const nlohmann::json section = run(model, {{"bits", 4}, {"per_channel", true}});
  for (const Parameter* p : compressible_weights(model)) {
    ASSERT_TRUE(p->quantized()) << p->name;
    EXPECT_EQ(p->quantizer()->bits(), 4);
    const auto& layer = section["layers"][p->name];
    EXPECT_EQ(layer["format"], "affine");
    EXPECT_EQ(layer["bits"], 4);
    EXPECT_EQ(layer["options"]["per_channel"], true);
    EXPECT_GT(layer["relative_mse"].get<double>(), 0.0);
    EXPECT_LT(layer["relative_mse"].get<double>(), 0.05);
  }
  EXPECT_FALSE(model.parameter("fc1.bias").quantized()) << "biases stay fp32";
  EXPECT_EQ(section["pass"], "quant.affine");
}

TEST(QuantAffine, ExcludedLayersStayFp32AndLayerBitsGiveMixedPrecision) {
  Model model = small_mlp();
  const nlohmann::json section =
      run(model, {{"bits", 4}, {"exclude", {"fc3"}}, {"layer_bits", {{"fc1", 8}, {"fc2.weight", 2}}}});
  EXPECT_FALSE(model.parameter("fc3.weight").quantized());
  EXPECT_FALSE(section["layers"].contains("fc3.weight"));
  EXPECT_EQ(model.parameter("fc1.weight").quantizer()->bits(), 8);
  EXPECT_EQ(model.parameter("fc2.weight").quantizer()->bits(), 2);
}

TEST(QuantAffine, BadOptionsFailWhenThePassIsBuilt) {
  auto message = [](const nlohmann::json& options) {
    return bad_input_message([&] { make_pass("quant.affine", options); });
  };
  EXPECT_EQ(message({{"bits", 12}}), "pass quant.affine: quantizer affine: bits must be in 2..8, got 12");
  EXPECT_NE(message({{"per_chanel", true}}).find("quantizer affine: unknown option 'per_chanel'"),
            std::string::npos);
  EXPECT_EQ(message({{"layer_bits", {{"fc1", 1}}}}),
            "pass quant.affine: quantizer affine: bits must be in 2..8, got 1");
  EXPECT_EQ(message({{"exclude", "fc1"}}), "pass quant.affine: option 'exclude' has the wrong type (\"fc1\")");
  Model model = small_mlp();
  EXPECT_NE(bad_input_message([&] { run(model, {{"exclude", {"fc9"}}}); })
                .find("cannot exclude 'fc9': it is not a compressible layer"),
            std::string::npos);
  EXPECT_NE(bad_input_message([&] { run(model, {{"layer_bits", {{"conv1", 8}}}}); })
                .find("layer_bits names 'conv1', which is not a compressible layer"),
            std::string::npos);
}

TEST(QuantAffine, PrunedWeightsKeepTheirZeros) {
  Model model = small_mlp();
  PassContext context;
  make_pass("prune.magnitude", {{"sparsity", 0.7}})->run(model, context);
  const Tensor mask = model.parameter("fc1.weight").mask;
  make_pass("quant.affine", {{"bits", 3}})->run(model, context);
  const Parameter& w = model.parameter("fc1.weight");
  for (int64_t i = 0; i < mask.numel(); ++i)
    if (mask[i] == 0.0f) EXPECT_EQ(w.effective()[i], 0.0f);
  EXPECT_NEAR(weight_sparsity(model).sparsity(), 0.7, 0.08) << "quantization adds few zeros";
}

TEST(QuantAffine, RequantizingReplacesTheFormat) {
  Model model = small_mlp();
  run(model, {{"bits", 8}});
  run(model, {{"bits", 3}, {"symmetric", true}});
  const auto& q = dynamic_cast<const AffineQuantizer&>(*model.parameter("fc2.weight").quantizer());
  EXPECT_EQ(q.bits(), 3);
  EXPECT_TRUE(q.symmetric());
}

}  // namespace
}  // namespace shrink
