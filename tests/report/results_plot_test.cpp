// Charts of sweep results: field lookup (options, short names, dotted paths), one series per
// colour value, failed points left out, the Pareto front, and a well-formed SVG.
#include "shrink/report/results_plot.hpp"

#include "support/errors.hpp"
#include "support/xml.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace shrink {
namespace {

nlohmann::json result(double sparsity, int seed, double accuracy, int64_t bytes) {
  return {{"key", "k"},
          {"point", {{"sparsity", sparsity}, {"seed", seed}}},
          {"status", "ok"},
          {"seconds", 2.5},
          {"report",
           {{"accuracy_after", accuracy},
            {"file_bytes_after", bytes},
            {"sparsity", sparsity + 0.001},
            {"energy", {{"per_inference_after", {{"joules", 1e-4 * (1 - sparsity)}}}}},
            {"latency", {{{"batch", 1}, {"after", {{"median_ms", 0.02}}}},
                         {{"batch", 256}, {"after", {{"median_ms", 1.5}}}, {"speedup", 1.25}}}}}}};
}

TEST(ResultsPlot, LooksUpOptionsShortNamesAndPaths) {
  const nlohmann::json r = result(0.9, 1, 0.85, 1000);
  EXPECT_DOUBLE_EQ(result_value(r, "sparsity"), 0.9);  // the option, not the measured one
  EXPECT_DOUBLE_EQ(result_value(r, "accuracy"), 0.85);
  EXPECT_DOUBLE_EQ(result_value(r, "file_bytes"), 1000);
  EXPECT_NEAR(result_value(r, "energy"), 1e-5, 1e-18);
  EXPECT_NEAR(result_value(r, "energy.per_inference_after.joules"), 1e-5, 1e-18);
  EXPECT_DOUBLE_EQ(result_value(r, "seconds"), 2.5);
  EXPECT_DOUBLE_EQ(result_value(r, "latency"), 0.02);  // batch 1, after
  EXPECT_DOUBLE_EQ(result_value(r, "latency.1.speedup"), 1.25);
  EXPECT_TRUE(std::isnan(result_value(r, "latency.2.speedup")));  // no third batch size
  EXPECT_TRUE(std::isnan(result_value(r, "latency.x.speedup")));
  EXPECT_TRUE(std::isnan(result_value(r, "nothing")));
  EXPECT_TRUE(std::isnan(result_value(r, "status")));  // text
  EXPECT_EQ(result_label(r, "seed"), "1");
  EXPECT_EQ(result_label(r, "status"), "ok");
}

TEST(ResultsPlot, SeriesPerColourValueWithoutFailedPoints) {
  std::vector<nlohmann::json> lines = {result(0.5, 0, 0.86, 3000), result(0.9, 0, 0.84, 1000),
                                       result(0.5, 1, 0.87, 3000), result(0.9, 1, 0.80, 1000)};
  lines.push_back({{"key", "f"}, {"point", {{"sparsity", 0.95}, {"seed", 0}}}, {"status", "failed"}, {"error", "x"}});
  ResultsPlot plot;
  plot.color = "seed";
  plot.log_x = true;
  const Chart chart = results_chart(lines, plot);
  ASSERT_EQ(chart.series.size(), 2u);
  EXPECT_EQ(chart.series[0].label, "seed 0");
  EXPECT_EQ(chart.series[0].x, (std::vector<double>{3000, 1000}));
  EXPECT_EQ(chart.series[1].y, (std::vector<double>{0.87, 0.80}));
  EXPECT_TRUE(chart.pareto.has_value());
  EXPECT_TRUE(chart.x.log);

  const auto svg = testing::parse_xml(render_chart(chart));
  std::string text;
  for (const auto* t : testing::find_all(svg, "text")) text += testing::all_text(*t) + "|";
  EXPECT_NE(text.find("seed 1"), std::string::npos) << text;
  EXPECT_NE(text.find("Pareto front"), std::string::npos) << text;

  plot.line = true;  // joined in order of x
  EXPECT_EQ(results_chart(lines, plot).series[0].x, (std::vector<double>{1000, 3000}));
}

TEST(ResultsPlot, NoUsableFieldIsAClearError) {
  ResultsPlot plot;
  plot.y = "acuracy";
  const std::string message =
      testing::bad_input_message([&] { results_chart({result(0.5, 0, 0.8, 10)}, plot); });
  EXPECT_NE(message.find("acuracy"), std::string::npos) << message;
  EXPECT_NE(message.find("accuracy_after"), std::string::npos) << message;  // what there is
}

}  // namespace
}  // namespace shrink
