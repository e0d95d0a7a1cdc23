#include "shrink/jobs/report_job.hpp"

#include "jobs/job_support.hpp"
#include "shrink/core/error.hpp"
#include "shrink/core/file.hpp"
#include "shrink/io/model_file.hpp"
#include "shrink/jobs/jobs.hpp"
#include "shrink/jobs/sweep_results.hpp"
#include "shrink/report/html_report.hpp"
#include "shrink/report/results_plot.hpp"
#include "shrink/report/sample_grid.hpp"

#include <filesystem>

namespace shrink {
namespace {

// The changed samples the eval report lists (most telling first), drawn as a grid.
std::string changed_samples_figure(const ReportJob& job, const nlohmann::json& listed) {
  const Model model = read_model(job.model);
  const Dataset data = load_data_for_model(model, job.data, job.split);
  if (!samples_are_images(data)) return {};
  std::vector<ChangedSample> samples;
  for (const nlohmann::json& s : listed) {
    ChangedSample sample;
    sample.index = s.at("index").get<int64_t>();
    sample.label = s.at("label").get<int32_t>();
    sample.before = s.at("before").get<int32_t>();
    sample.after = s.at("after").get<int32_t>();
    sample.confidence_after = s.value("confidence_after", 0.0f);
    samples.push_back(sample);
  }
  return changed_samples_svg(data, samples, 32, "base", "model", 8);
}

}  // namespace

nlohmann::json run_report_job(const ReportJob& job) {
  require(!job.output.empty(), "give the page to write: -o report.html");
  check_output_file(job.output, ".html");
  for (const std::string& results : job.results)
    require(std::filesystem::is_regular_file(results), "cannot chart " + results + ": no such file");

  HtmlReportInput input;
  input.title = job.title;
  input.model = run_inspect_job({job.model});
  input.model.erase("table");
  if (!job.compare.empty()) input.base = run_inspect_job({job.compare});
  EvalJob eval;
  eval.model = job.model;
  eval.data = job.data;
  eval.split = job.split;
  eval.compare = job.compare;
  input.evaluation = run_eval_job(eval);

  nlohmann::json sections = {"summary", "layers", "size"};
  const nlohmann::json& changed = input.evaluation.contains("class_impact")
                                      ? input.evaluation["class_impact"].value("changed", nlohmann::json::array())
                                      : nlohmann::json::array();
  if (input.evaluation.contains("class_impact")) sections.push_back("classes");
  if (!changed.empty()) {
    std::string grid = changed_samples_figure(job, changed);
    if (!grid.empty()) {
      input.figures.push_back({"The test samples whose prediction changed, those that became wrong first (the most "
                               "confidently wrong first): true class, the base's and this model's predictions.",
                               std::move(grid)});
      sections.push_back("changed_samples");
    }
  }
  for (const std::string& path : job.results) {
    ResultsPlot plot;
    plot.x = "file_bytes";
    plot.y = "accuracy";
    plot.log_x = true;
    plot.title = std::filesystem::path(path).filename().string();
    input.figures.push_back({"Sweep results in " + path + ": accuracy against file size after compressing, with "
                             "the Pareto front (no other point is both smaller and more accurate).",
                             render_chart(results_chart(read_results(path).lines, plot))});
    sections.push_back("results: " + path);
  }

  const std::string html = render_html_report(input);
  write_file_atomic(job.output, html);
  return {{"command", "report"},
          {"model", job.model},
          {"compare", job.compare.empty() ? nlohmann::json() : nlohmann::json(job.compare)},
          {"output", job.output},
          {"bytes", html.size()},
          {"accuracy", input.evaluation["accuracy"]},
          {"sections", sections}};
}

}  // namespace shrink
