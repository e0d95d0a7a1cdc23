// The model summary of `shrink inspect` and the HTML report: each weight's format and its bits per
// weight, which for product quantization are the code bits over the d weights a code stands for.
#include "shrink/nn/model.hpp"
#include "shrink/nn/parameter.hpp"
#include "shrink/nn/quantizer.hpp"
#include "shrink/report/summary.hpp"

#include <gtest/gtest.h>

namespace shrink {
namespace {

Model two_layers() {
  Model model = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {12}}}},
       {"nodes",
        {{{"name", "fc1"}, {"type", "Linear"}, {"attributes", {{"out_features", 8}}}},
         {{"name", "relu"}, {"type", "ReLU"}},
         {{"name", "fc2"}, {"type", "Linear"}, {"attributes", {{"out_features", 10}}}}}}});
  model.initialize(1);
  return model;
}

// The table's next field after `field`: the bits/w column after a layer's formats.
std::string field_after(const std::string& table, const std::string& field) {
  const size_t at = table.find(field);
  if (at == std::string::npos) return "(no " + field + ")";
  const size_t begin = table.find_first_not_of(' ', at + field.size());
  return table.substr(begin, table.find(' ', begin) - begin);
}

const LayerSummary& layer_named(const ModelSummary& summary, const std::string& name) {
  for (const LayerSummary& l : summary.layers)
    if (l.name == name) return l;
  throw std::runtime_error("no layer " + name);
}

TEST(ModelSummary, ProductQuantizationCountsCodeBitsOverTheWeightsACodeStandsFor) {
  Model model = two_layers();
  Parameter& w1 = model.parameter("fc1.weight");  // rows of 12: three sub-vectors of 4
  w1.set_quantizer(make_quantizer("pq", {{"d", 4}, {"k", 16}}, w1.value));
  Parameter& w2 = model.parameter("fc2.weight");  // rows of 8
  w2.set_quantizer(make_quantizer("kmeans", {{"bits", 3}}, w2.value));
  w1.effective();
  w2.effective();
  const ModelSummary summary = summarize(model, {}, 0);
  const LayerSummary& fc1 = layer_named(summary, "fc1");
  ASSERT_EQ(fc1.formats.size(), 2u);
  EXPECT_EQ(fc1.formats[0], "pq:d4k16") << "a 4-bit code stands for 4 weights";
  EXPECT_DOUBLE_EQ(fc1.bits_per_weight[0], 1.0);
  EXPECT_EQ(fc1.formats[1], "fp32");
  EXPECT_DOUBLE_EQ(fc1.bits_per_weight[1], 32.0);
  const LayerSummary& fc2 = layer_named(summary, "fc2");
  EXPECT_EQ(fc2.formats[0], "kmeans:3");
  EXPECT_DOUBLE_EQ(fc2.bits_per_weight[0], 3.0);
  const nlohmann::json json = summary.to_json();
  for (const auto& l : json["layers"])
    if (l["name"] == "fc1") EXPECT_EQ(l["bits_per_weight"], nlohmann::json({1.0, 32.0}));
  const std::string table = summary.to_table();
  EXPECT_NE(table.find("bits/w"), std::string::npos) << table;
  EXPECT_EQ(field_after(table, "pq:d4k16,fp32"), "1") << table;
  EXPECT_EQ(field_after(table, "kmeans:3,fp32"), "3") << table;
}

TEST(ModelSummary, ARowThatDDoesNotDivideCostsAWholeCodeForItsShortSubVector) {
  Model model = two_layers();
  Parameter& w1 = model.parameter("fc1.weight");  // rows of 12 with d = 5: sub-vectors of 5, 5, 2
  w1.set_quantizer(make_quantizer("pq", {{"d", 5}, {"k", 256}}, w1.value));
  w1.effective();
  const ModelSummary summary = summarize(model, {}, 0);
  EXPECT_DOUBLE_EQ(layer_named(summary, "fc1").bits_per_weight[0], 8.0 * 3 / 12);
  EXPECT_EQ(field_after(summary.to_table(), "pq:d5k256,fp32"), "2") << summary.to_table();
}

}  // namespace
}  // namespace shrink
