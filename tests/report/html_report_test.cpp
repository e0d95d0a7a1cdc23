// The HTML report: a well-formed page (checked by a strict XML reader) with the summary, layer
// table, sparsity and bit-width bars, size breakdown, per-class change and figures the inputs
// call for; every name escaped; a clear error without an inspect report.
#include "shrink/report/html_report.hpp"

#include "support/errors.hpp"
#include "support/xml.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace shrink {
namespace {

using testing::all_text;
using testing::find_all;
using testing::parse_xml;

nlohmann::json layer(const std::string& name, int64_t parameters, int64_t nonzeros, const std::string& format,
                     int64_t bytes) {
  return {{"name", name},           {"type", "Linear"},      {"output_shape", {10}},
          {"parameters", parameters}, {"nonzeros", nonzeros}, {"macs", parameters},
          {"effective_macs", nonzeros}, {"encodings", {"dense"}}, {"formats", {format, "fp32"}},
          {"bytes", bytes}};
}

nlohmann::json inspect(double sparsity) {
  const int64_t nz = std::llround(1000 * (1 - sparsity));
  return {{"model", "m.shrk"},
          {"layers", {{{"name", "flatten"}, {"type", "Flatten"}, {"output_shape", {784}}, {"parameters", 0}},
                      layer("fc<1>&", 1000, nz, "affine:4", 600), layer("fc2", 100, 100, "fp32", 400)}},
          {"parameters", 1100},
          {"nonzeros", nz + 100},
          {"weight_sparsity", sparsity},
          {"effective_macs", nz + 100},
          {"tensor_bytes", 1000},
          {"file_bytes", 1200}};
}

nlohmann::json evaluation() {
  return {{"accuracy", 0.8},
          {"data", "fashion-mnist"},
          {"split", "test"},
          {"samples", 20},
          {"compare", {{"accuracy", 0.85}}},
          {"energy",
           {{"per_inference", {{"joules", 2e-5}}},
            {"per_inference_compare", {{"joules", 1e-4}}},
            {"job", {{"joules", 12.5}, {"co2_grams", 0.002}, {"measured", false}, {"method", "estimated: x"}}}}},
          {"class_impact",
           {{"classes", {"cat", "dog"}},
            {"count", {10, 10}},
            {"accuracy_before", {0.9, 0.8}},
            {"accuracy_after", {0.7, 0.9}},
            {"became_wrong", {2, 0}},
            {"became_right", {0, 1}},
            {"hurt_most", {{{"class", 0}, {"name", "cat"}, {"change", -0.2}}}},
            {"changed_samples", 3},
            {"became_wrong_samples", 2},
            {"became_right_samples", 1},
            {"samples", 20}}}};
}

std::vector<std::string> ids(const testing::XmlElement& root) {
  std::vector<std::string> out;
  for (const auto* h : find_all(root, "h2")) out.push_back(h->attributes.at("id"));
  return out;
}

TEST(HtmlReport, AComparedModelHasEverySection) {
  HtmlReportInput input;
  input.model = inspect(0.9);
  input.base = inspect(0.0);
  input.base["model"] = "base.shrk";
  input.base["file_bytes"] = 4800;
  input.evaluation = evaluation();
  input.figures.push_back({"a <figure>", "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1\" height=\"1\"/>"});
  const std::string html = render_html_report(input);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  const auto root = parse_xml(html);  // throws when not well-formed
  EXPECT_EQ(root.name, "html");
  EXPECT_EQ(ids(root), (std::vector<std::string>{"summary", "layers", "size", "classes", "figures"}));
  const std::string text = all_text(root);
  EXPECT_NE(text.find("m.shrk compared with base.shrk"), std::string::npos);
  EXPECT_NE(text.find("fc<1>&"), std::string::npos);  // escaped in the file, itself in the text
  EXPECT_EQ(html.find("fc<1>"), std::string::npos);
  EXPECT_NE(text.find("80.00%"), std::string::npos);   // accuracy after
  EXPECT_NE(text.find("\u22125.00 pt"), std::string::npos);  // and its change
  EXPECT_NE(text.find("5.50\u00d7 fewer"), std::string::npos) << text;  // 1100 MACs -> 200
  EXPECT_NE(text.find("4.00\u00d7 smaller"), std::string::npos);  // file size
  EXPECT_NE(text.find("80.0% less"), std::string::npos);  // energy per inference
  EXPECT_NE(text.find("modelled"), std::string::npos);
  EXPECT_NE(text.find("Hurt most: cat (\u221220.00 pt)"), std::string::npos) << text;
  EXPECT_NE(text.find("a <figure>"), std::string::npos);

  // Tables: summary rows with base, this model and change; one row per layer and per class.
  const auto tables = find_all(root, "table");
  ASSERT_EQ(tables.size(), 3u);
  EXPECT_EQ(find_all(*tables[1], "tr").size(), 1u + 3u);
  EXPECT_EQ(find_all(*tables[2], "tr").size(), 1u + 2u);
  // Coloured changes: accuracy, size, MACs and energy in the summary, and the two classes.
  EXPECT_EQ(find_all(root, "span").size(), 4u + 2u);

  // Bars: sparsity and bits for the two weighted layers, their bytes and the rest of the file,
  // and the change of the two classes; plus the figure.
  const auto svgs = find_all(root, "svg");
  ASSERT_EQ(svgs.size(), 5u);
  const std::string bits = all_text(*svgs[1]);
  EXPECT_NE(bits.find("affine:4"), std::string::npos) << bits;
  EXPECT_NE(all_text(*svgs[2]).find("header, metadata"), std::string::npos);
}

TEST(HtmlReport, AModelAloneHasNoComparison) {
  HtmlReportInput input;
  input.model = inspect(0.5);
  const auto root = parse_xml(render_html_report(input));
  EXPECT_EQ(ids(root), (std::vector<std::string>{"summary", "layers", "size"}));
  EXPECT_EQ(find_all(*find_all(root, "table")[0], "th").size(), 3u);  // what, this model, how
}

TEST(HtmlReport, NeedsAnInspectReport) {
  HtmlReportInput input;
  input.model = {{"accuracy", 0.9}};
  EXPECT_NE(testing::bad_input_message([&] { render_html_report(input); }).find("inspect report"),
            std::string::npos);
}

// A product-quantized layer's bar is its bits per weight (8-bit codes over d = 4: 2), not the bits
// of one code; a report written before bits_per_weight falls back to the format's bit width.
TEST(HtmlReport, BitsPerWeightAreTheSummarysNotTheCodeWidth) {
  HtmlReportInput input;
  input.model = inspect(0.0);
  input.model["layers"][1]["formats"] = {"pq:d4k256", "fp32"};
  input.model["layers"][1]["bits_per_weight"] = {2.0, 32.0};
  const auto root = parse_xml(render_html_report(input));
  const std::string bits = all_text(*find_all(root, "svg")[1]);
  EXPECT_NE(bits.find("pq:d4k256 (2 bits)"), std::string::npos) << bits;
  EXPECT_NE(bits.find("fp32 (32 bits)"), std::string::npos) << bits;
  EXPECT_EQ(bits.find("(8 bits)"), std::string::npos) << bits;
  const std::string layers = all_text(*find_all(root, "table")[1]);
  EXPECT_NE(layers.find("bits/weight"), std::string::npos) << layers;

  input.model = inspect(0.0);  // no bits_per_weight: "affine:4" is 4 bits
  EXPECT_NE(all_text(*find_all(parse_xml(render_html_report(input)), "svg")[1]).find("affine:4 (4 bits)"),
            std::string::npos);
}

TEST(HtmlReport, FormatBits) {
  EXPECT_EQ(format_bits("fp32"), 32);
  EXPECT_EQ(format_bits("affine:4"), 4);
  EXPECT_EQ(format_bits("kmeans:5"), 5);
  EXPECT_EQ(format_bits("fp16"), 16);
  EXPECT_EQ(format_bits("binary:1"), 1);
}

}  // namespace
}  // namespace shrink
