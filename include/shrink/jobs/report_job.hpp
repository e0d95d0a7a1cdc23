#pragma once
// shrink report: one self-contained HTML page about a model (report/html_report.hpp) — its
// layers, sizes and accuracy, and with a base model what the compression changed per class.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace shrink {

struct ReportJob {
  std::string model;
  std::string compare;  // the base (dense) model, or empty
  std::string data = "fashion-mnist";
  std::string split = "test";
  std::vector<std::string> results;  // sweep results files to chart (accuracy against file size)
  std::string title;                 // empty: "shrink report: MODEL"
  std::string output;                // .html, written atomically
};

// Inspects the model (and the base), evaluates it on `data` (against the base when given: the
// per-class impact and a grid of the changed samples when they are images), charts the results
// files and writes the page. Report: command, model, compare, output, bytes, sections, accuracy.
nlohmann::json run_report_job(const ReportJob& job);

}  // namespace shrink
