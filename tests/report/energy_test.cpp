// The energy model on hand-computed cases: a layer's compute, weight and activation traffic by
// arithmetic, a whole model, and that pruning and fewer stored bytes lower the estimate.
#include "shrink/report/energy.hpp"
#include "shrink/report/energy_report.hpp"

#include "shrink/nn/architectures.hpp"
#include "shrink/nn/quantizer.hpp"
#include "shrink/nn/weights.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace shrink {
namespace {

LayerPrecision integer(int weight_bits, int activation_bits) {
  LayerPrecision p;
  p.weight_format = "affine";
  p.weight_bits = weight_bits;
  p.weight_integer = true;
  p.activation_format = "affine";
  p.activation_bits = activation_bits;
  p.activation_integer = true;
  return p;
}

TEST(Energy, ArithmeticFollowsWeightsAndActivations) {
  EXPECT_EQ(LayerPrecision{}.arithmetic(), Arithmetic::Fp32);
  EXPECT_EQ(integer(8, 8).arithmetic(), Arithmetic::Int8);
  EXPECT_EQ(integer(4, 8).arithmetic(), Arithmetic::Int8);
  EXPECT_EQ(integer(16, 8).arithmetic(), Arithmetic::Int32);
  LayerPrecision int4_weights_float_activations;  // weights dequantized into fp32
  int4_weights_float_activations.weight_format = "affine";
  int4_weights_float_activations.weight_bits = 4;
  int4_weights_float_activations.weight_integer = true;
  EXPECT_EQ(int4_weights_float_activations.arithmetic(), Arithmetic::Fp32);
  LayerPrecision half;
  half.weight_format = half.activation_format = "fp16";
  half.weight_bits = half.activation_bits = 16;
  EXPECT_EQ(half.arithmetic(), Arithmetic::Fp16);
  LayerPrecision float_weights_int_activations = integer(8, 8);
  float_weights_int_activations.weight_integer = false;
  EXPECT_EQ(float_weights_int_activations.arithmetic(), Arithmetic::Fp32);
}

TEST(Energy, LayerByHand) {
  LayerWork work;
  work.macs = 1000;
  work.other_operations = 10;
  work.weight_bytes = 4000;
  work.activation_elements = 1100;
  const LayerEnergy fp32 = layer_energy(work);
  EXPECT_DOUBLE_EQ(fp32.compute_pj, 1000 * (3.7 + 0.9) + 10 * 0.9);
  EXPECT_DOUBLE_EQ(fp32.weight_memory_pj, 1000 * 640.0);  // 1000 32-bit words from DRAM
  EXPECT_DOUBLE_EQ(fp32.activation_memory_pj, 1100 * 5.0);

  work.precision = integer(8, 8);
  work.weight_bytes = 1000;  // one byte a weight
  const LayerEnergy int8 = layer_energy(work);
  EXPECT_DOUBLE_EQ(int8.compute_pj, 1000 * (0.2 + 0.1) + 10 * 0.03);  // int32 accumulation
  EXPECT_DOUBLE_EQ(int8.weight_memory_pj, 250 * 640.0);
  EXPECT_DOUBLE_EQ(int8.activation_memory_pj, 1100 * 8 / 32.0 * 5.0);

  work.precision = LayerPrecision{};
  work.precision.weight_format = work.precision.activation_format = "fp16";
  work.precision.weight_bits = work.precision.activation_bits = 16;
  work.weight_bytes = 2000;
  const LayerEnergy fp16 = layer_energy(work);
  EXPECT_DOUBLE_EQ(fp16.compute_pj, 1000 * (1.1 + 0.4) + 10 * 0.4);
  EXPECT_DOUBLE_EQ(fp16.weight_memory_pj, 500 * 640.0);

  EnergyTable table;
  table.dram_32bit = 100;
  EXPECT_DOUBLE_EQ(layer_energy(work, table).weight_memory_pj, 500 * 100.0);
}

Model linear_relu() {
  Model model;
  model.set_input("x", {4});
  model.add_node("fc", make_op("Linear", {{"out_features", 3}}));
  model.add_node("relu", make_op("ReLU", nlohmann::json::object()));
  model.initialize(1);
  return model;
}

TEST(Energy, ModelByHand) {
  Model model = linear_relu();
  const InferenceEnergy energy = inference_energy(model, summarize(model));
  ASSERT_EQ(energy.layers.size(), 2u);
  // fc: 12 MACs; 15 floats (weight and bias) from DRAM; reads 4 values and writes 3.
  EXPECT_DOUBLE_EQ(energy.layers[0].compute_pj, 12 * 4.6);
  EXPECT_DOUBLE_EQ(energy.layers[0].weight_memory_pj, 15 * 640.0);
  EXPECT_DOUBLE_EQ(energy.layers[0].activation_memory_pj, 7 * 5.0);
  // relu: 3 operations, reads 3 and writes 3.
  EXPECT_DOUBLE_EQ(energy.layers[1].compute_pj, 3 * 0.9);
  EXPECT_DOUBLE_EQ(energy.layers[1].activation_memory_pj, 6 * 5.0);
  EXPECT_DOUBLE_EQ(energy.total_pj(), 12 * 4.6 + 15 * 640.0 + 7 * 5.0 + 3 * 0.9 + 6 * 5.0);
  EXPECT_DOUBLE_EQ(energy.joules(), energy.total_pj() * 1e-12);

  const nlohmann::json json = energy.to_json();
  EXPECT_TRUE(json["modelled"].get<bool>());
  EXPECT_EQ(json["macs"], 12);
  EXPECT_EQ(json["layers"][0]["precision"]["arithmetic"], "fp32");
  EXPECT_NE(json["method"].get<std::string>().find("Horowitz"), std::string::npos);
}

TEST(Energy, PrunedWeightsSkipMacsAndSparseStorageSavesTraffic) {
  Model model = linear_relu();
  Parameter& weight = model.parameter("fc.weight");
  for (int64_t i = 0; i < 6; ++i) weight.value.data()[i] = 0.0f;  // half the weights pruned
  // As if the file stored fc.weight sparse in 30 bytes and the bias dense.
  const std::map<std::string, TensorStorage> storage = {{"fc.weight", {"sparse-bitmap", 30}},
                                                        {"fc.bias", {"dense", 12}}};
  const InferenceEnergy energy = inference_energy(model, summarize(model, storage));
  EXPECT_DOUBLE_EQ(energy.layers[0].compute_pj, 6 * 4.6);
  EXPECT_DOUBLE_EQ(energy.layers[0].weight_memory_pj, 42 / 4.0 * 640.0);
}

// x -> QuantizeLinear -> DequantizeLinear -> fc -> relu: the int8 graph quant.int8 builds.
Model qdq_linear_relu(const std::string& weight_format, const nlohmann::json& options) {
  Model model;
  model.set_input("x", {4});
  const nlohmann::json codes = {{"scale", 0.05}, {"zero_point", 128}, {"type", "uint8"}};
  model.add_node("q", make_op("QuantizeLinear", codes));
  model.add_node("dq", make_op("DequantizeLinear", codes));
  model.add_node("fc", make_op("Linear", {{"out_features", 3}}));
  model.add_node("relu", make_op("ReLU", nlohmann::json::object()));
  model.initialize(1);
  Parameter& weight = model.parameter("fc.weight");
  weight.set_quantizer(make_quantizer(weight_format, options, weight.value));
  return model;
}

TEST(Energy, QuantizedWeightsAndActivationsSetTheArithmetic) {
  // int8 weights on uint8 codes: int8 multiplies, int32 accumulation, 8-bit activations.
  const Model int8 = qdq_linear_relu("affine", {{"bits", 8}, {"per_channel", true}});
  const InferenceEnergy e8 = inference_energy(int8, summarize(int8));
  ASSERT_EQ(e8.layers[2].name, "fc");
  const nlohmann::json p8 = e8.layers[2].work.precision.to_json();
  EXPECT_EQ(p8["weights"], "affine");
  EXPECT_EQ(p8["weight_bits"], 8);
  EXPECT_EQ(p8["activations"], "uint8");
  EXPECT_EQ(p8["arithmetic"], "int8");
  EXPECT_DOUBLE_EQ(e8.layers[2].compute_pj, 12 * (0.2 + 0.1));
  EXPECT_DOUBLE_EQ(e8.layers[2].activation_memory_pj, 7 * 8 / 32.0 * 5.0);
  EXPECT_EQ(e8.layers[3].work.precision.arithmetic(), Arithmetic::Fp32) << "relu reads fc's fp32 output";

  // k-means codes index fp32 centroids: fp32 arithmetic, whatever the code width.
  const Model kmeans = qdq_linear_relu("kmeans", {{"bits", 2}});
  const nlohmann::json pk = inference_energy(kmeans, summarize(kmeans)).layers[2].work.precision.to_json();
  EXPECT_EQ(pk["weights"], "kmeans");
  EXPECT_EQ(pk["weight_bits"], 32);
  EXPECT_EQ(pk["arithmetic"], "fp32");

  // fp16 weights on integer codes: float weights need float arithmetic, and the codes are
  // dequantized to fp32 for them.
  const Model half = qdq_linear_relu("fp16", nlohmann::json::object());
  const nlohmann::json ph = inference_energy(half, summarize(half)).layers[2].work.precision.to_json();
  EXPECT_EQ(ph["weights"], "fp16");
  EXPECT_EQ(ph["weight_bits"], 16);
  EXPECT_EQ(ph["arithmetic"], "fp32");

  // Without the QDQ pair in front the same int8 weights run on fp32 activations: fp32.
  Model plain = linear_relu();
  Parameter& weight = plain.parameter("fc.weight");
  weight.set_quantizer(make_quantizer("affine", {{"bits", 8}}, weight.value));
  EXPECT_EQ(inference_energy(plain, summarize(plain)).layers[0].work.precision.arithmetic(), Arithmetic::Fp32);
}

TEST(Energy, ViewsCostNothing) {
  Model model = build_architecture("lenet-300-100", {1, 28, 28}, 10);
  const InferenceEnergy energy = inference_energy(model, summarize(model));
  for (const LayerEnergy& layer : energy.layers)
    if (layer.type == "Flatten") EXPECT_EQ(layer.total_pj(), 0.0);
  // Dense LeNet-300-100: 266,200 MACs and 266,610 weights and biases streamed from DRAM.
  EXPECT_EQ(energy.to_json()["macs"], 266200);
  EXPECT_NEAR(energy.weight_memory_pj, 266610 * 640.0, 1e-3);
}

TEST(Energy, BreakEven) {
  const BreakEven even = break_even(100.0, 2e-6, 1e-6);
  ASSERT_TRUE(even.inferences.has_value());
  EXPECT_NEAR(*even.inferences, 1e8, 1);
  EXPECT_NE(even.explanation.find("100.0M inferences"), std::string::npos) << even.explanation;
  EXPECT_FALSE(break_even(100.0, 1e-6, 1e-6).inferences.has_value());
  EXPECT_FALSE(break_even(100.0, 1e-6, 2e-6).inferences.has_value());
}

TEST(Energy, CompressionSectionSaysWhatIsMeasuredAndWhatIsModelled) {
  Model dense = linear_relu();
  Model pruned = linear_relu();
  for (int64_t i = 0; i < 6; ++i) pruned.parameter("fc.weight").value.data()[i] = 0.0f;
  const InferenceEnergy before = inference_energy(dense, summarize(dense));
  const InferenceEnergy after = inference_energy(pruned, summarize(pruned));
  JobEnergy cost;
  cost.joules = 1.0;
  cost.method = "estimated: test";
  const nlohmann::json section = compression_energy_section(before, after, cost, cost);
  const double saving = before.joules() - after.joules();
  EXPECT_NEAR(section["saving_per_inference_joules"].get<double>(), 6 * 4.6e-12, 1e-20);
  EXPECT_NEAR(section["break_even_inferences"].get<double>(), 1.0 / saving, 1e-9 / saving);
  EXPECT_NE(section["break_even"].get<std::string>().find("estimated cost against a modelled saving"),
            std::string::npos);
  EXPECT_TRUE(section["per_inference_after"]["modelled"].get<bool>());
  EXPECT_FALSE(section["compression"]["measured"].get<bool>());

  const nlohmann::json same = compression_energy_section(before, before, cost, cost);
  EXPECT_TRUE(same["break_even_inferences"].is_null());
}

TEST(Energy, HumanUnits) {
  EXPECT_EQ(format_joules(3.2e-6), "3.2 µJ");
  EXPECT_EQ(format_joules(45.6), "45.6 J");
  EXPECT_EQ(format_joules(1234.0), "1.23 kJ");
  EXPECT_EQ(format_joules(0.0), "0 pJ");
  EXPECT_EQ(format_grams(0.012), "12 mg");
  EXPECT_EQ(format_grams(3.4), "3.4 g");
}

}  // namespace
}  // namespace shrink
