#pragma once
// One self-contained HTML page about a (compressed) model, for people: the summary before and
// after, the layer table with per-layer sparsity and bit-width bars, where the bytes go, the
// per-class accuracy change, the samples whose prediction changed, and any charts. It is drawn
// from the JSON reports the jobs already give, so the page says exactly what `inspect` and
// `eval --compare` say. No scripts, no external files: inline CSS and inline SVG, written as
// well-formed XML so that any XML parser (and the tests) can check it.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace shrink {

struct HtmlFigure {
  std::string caption;
  std::string svg;  // a complete <svg> document (report/svg.hpp, chart.hpp)
};

struct HtmlReportInput {
  std::string title;
  nlohmann::json model;       // run_inspect_job's report of the model
  nlohmann::json evaluation;  // run_eval_job's report (with compare: class_impact); null: none
  nlohmann::json base;        // run_inspect_job's report of the model compared with; null: none
  std::vector<HtmlFigure> figures;  // drawn after the tables (changed samples, sweep charts)
};

// The page. Throws a bad-input Error naming the field when `model` is not an inspect report.
std::string render_html_report(const HtmlReportInput& input);

// The bit width of a summary format ("fp32" -> 32, "affine:4" -> 4, "kmeans:5" -> 5).
int format_bits(const std::string& format);

}  // namespace shrink
