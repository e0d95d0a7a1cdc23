// Charts render to well-formed SVG with the axes, labels, legend, points and Pareto front the
// data calls for.
#include "shrink/report/chart.hpp"

#include "support/errors.hpp"
#include "support/temp_dir.hpp"
#include "support/xml.hpp"

#include "shrink/core/file.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace shrink {
namespace {

using testing::all_text;
using testing::find_all;
using testing::parse_xml;

Chart sample_chart() {
  Chart chart;
  chart.title = "accuracy against size";
  chart.x = {.label = "file bytes", .log = true};
  chart.y = {.label = "accuracy"};
  chart.series.push_back({.label = "seed 0", .x = {1e5, 5e4, 2e4, 1e4}, .y = {0.89, 0.885, 0.86, 0.70}});
  chart.series.push_back({.label = "seed 1", .x = {1e5, 5e4, 2e4}, .y = {0.888, 0.887, 0.85}, .line = true});
  return chart;
}

std::vector<std::string> texts(const testing::XmlElement& root) {
  std::vector<std::string> out;
  for (const auto* t : find_all(root, "text")) out.push_back(t->text);
  return out;
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

TEST(Chart, ScatterWithLegendAxesAndLabels) {
  const auto root = parse_xml(render_chart(sample_chart()));
  const auto labels = texts(root);
  for (const char* expected : {"accuracy against size", "file bytes", "accuracy", "seed 0", "seed 1", "10k", "100k"})
    EXPECT_TRUE(contains(labels, expected)) << expected;
  // Series 0 uses circles (4 points + 1 in the legend), series 1 squares (3 + 1).
  EXPECT_EQ(find_all(root, "circle").size(), 5u);
  EXPECT_EQ(find_all(root, "rect").size(), 1u /*background*/ + 1u /*frame*/ + 4u);
  // Series 1 is a line: one polyline through its 3 points.
  const auto lines = find_all(root, "polyline");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(std::count(lines[0]->attributes.at("points").begin(), lines[0]->attributes.at("points").end(), ','), 3);
  // The y label is turned on its side.
  for (const auto* t : find_all(root, "text"))
    if (t->text == "accuracy") EXPECT_NE(t->attributes.at("transform").find("rotate(-90"), std::string::npos);
}

TEST(Chart, PointsMapInsideThePlotAreaInOrder) {
  Chart chart;
  chart.x = {.label = "x"};
  chart.y = {.label = "y"};
  chart.series.push_back({.label = "", .x = {0, 1, 2}, .y = {0, 10, 20}, .marker = Marker::Circle});
  const auto root = parse_xml(render_chart(chart));
  const auto circles = find_all(root, "circle");
  ASSERT_EQ(circles.size(), 3u);  // no legend entry for an unlabelled series
  const auto* clip = find_all(root, "svg")[1];
  const double left = std::stod(clip->attributes.at("x")), top = std::stod(clip->attributes.at("y"));
  const double right = left + std::stod(clip->attributes.at("width"));
  const double bottom = top + std::stod(clip->attributes.at("height"));
  double last_x = -1, last_y = 1e9;
  for (const auto* c : circles) {
    const double cx = std::stod(c->attributes.at("cx")), cy = std::stod(c->attributes.at("cy"));
    EXPECT_GT(cx, left);
    EXPECT_LT(cx, right);
    EXPECT_GT(cy, top);
    EXPECT_LT(cy, bottom);
    EXPECT_GT(cx, last_x);  // x grows to the right
    EXPECT_LT(cy, last_y);  // y grows upward
    last_x = cx, last_y = cy;
  }
  // Equal spacing on a linear axis.
  const double d1 = std::stod(circles[1]->attributes.at("cx")) - std::stod(circles[0]->attributes.at("cx"));
  const double d2 = std::stod(circles[2]->attributes.at("cx")) - std::stod(circles[1]->attributes.at("cx"));
  EXPECT_NEAR(d1, d2, 0.02);
}

TEST(Chart, ParetoFrontIsAStaircaseThroughTheBestPoints) {
  Chart chart = sample_chart();
  chart.pareto = ParetoFront{};
  const auto root = parse_xml(render_chart(chart));
  EXPECT_TRUE(contains(texts(root), "Pareto front"));
  // Front over both series (smaller and more accurate): (1e4, .70), (2e4, .86), (5e4, .887),
  // (1e5, .89); the staircase has a corner between each pair.
  const auto lines = find_all(root, "polyline");
  ASSERT_EQ(lines.size(), 2u);
  const std::string& points = lines[0]->attributes.at("points");
  EXPECT_EQ(std::count(points.begin(), points.end(), ','), 7);
  EXPECT_EQ(lines[0]->attributes.at("stroke-dasharray"), "4,3");
  // Rings around the 4 front points and one in the legend.
  int rings = 0;
  for (const auto* c : find_all(root, "circle")) rings += c->attributes.at("fill") == "none";
  EXPECT_EQ(rings, 5);
}

TEST(Chart, TooltipsAndBrokenLines) {
  Chart chart;
  chart.series.push_back({.label = "a", .x = {1, 2, NAN, 4, 5}, .y = {1, 2, 3, 4, 5}, .line = true,
                          .tooltips = {"p1", "p2", "p3", "p4", "p5"}});
  const auto root = parse_xml(render_chart(chart));
  EXPECT_EQ(find_all(root, "polyline").size(), 2u);  // split at the NaN
  std::string tips;
  for (const auto* t : find_all(root, "title")) tips += t->text + ";";
  EXPECT_NE(tips.find("p1;p2;p4;p5;"), std::string::npos);
}

TEST(Chart, EmptyChartSaysSo) {
  const auto root = parse_xml(render_chart(Chart{}));
  EXPECT_TRUE(contains(texts(root), "no data"));
}

TEST(Chart, LegendGrowsTheChartWhenItNeedsRoom) {
  Chart chart;
  for (int i = 0; i < 40; ++i)
    chart.series.push_back({.label = "layer " + std::to_string(i), .x = {0, 1}, .y = {0, double(i)}, .line = true});
  const auto root = parse_xml(render_chart(chart));
  EXPECT_GT(std::stod(root.attributes.at("height")), 40 * 18.0);
  EXPECT_TRUE(contains(texts(root), "layer 39"));
}

TEST(Chart, FixedBoundsAndCustomFormat) {
  Chart chart;
  chart.y = {.label = "accuracy", .min = 0, .max = 1, .format = [](double v) {
               return std::to_string(static_cast<int>(std::lround(v * 100))) + "%";
             }};
  chart.series.push_back({.label = "a", .x = {1, 2}, .y = {0.5, 0.6}});
  const auto labels = texts(parse_xml(render_chart(chart)));
  EXPECT_TRUE(contains(labels, "0%"));
  EXPECT_TRUE(contains(labels, "100%"));
}

TEST(Chart, BadInputIsNamed) {
  Chart chart = sample_chart();
  chart.series[1].x[2] = 0;
  const std::string message = testing::bad_input_message([&] { render_chart(chart); });
  EXPECT_NE(message.find("x axis is logarithmic"), std::string::npos) << message;
  EXPECT_NE(message.find("point 3 of series 'seed 1'"), std::string::npos) << message;

  Chart uneven;
  uneven.series.push_back({.label = "a", .x = {1, 2}, .y = {1}});
  EXPECT_NE(testing::bad_input_message([&] { render_chart(uneven); }).find("2 x values but 1 y values"),
            std::string::npos);
}

TEST(Chart, WritesTheFileAtomically) {
  testing::TempDir dir;
  write_chart(sample_chart(), dir.file("plot.svg"));
  EXPECT_NO_THROW(parse_xml(read_file(dir.file("plot.svg"))));
}

TEST(Chart, SameChartSameBytes) {
  EXPECT_EQ(render_chart(sample_chart()), render_chart(sample_chart()));
}

}  // namespace
}  // namespace shrink
