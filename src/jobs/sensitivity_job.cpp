#include "shrink/jobs/sensitivity_job.hpp"

#include "jobs/job_support.hpp"
#include "shrink/core/error.hpp"
#include "shrink/core/random.hpp"
#include "shrink/io/model_file.hpp"
#include "shrink/report/chart.hpp"

#include <algorithm>
#include <optional>

namespace shrink {
namespace {

void draw(const Sensitivity& s, const std::string& model, const std::string& path) {
  Chart chart;
  chart.title = "Sensitivity of each layer of " + model + " to " + s.criterion;
  chart.x.label = "sparsity of the layer (the others as they are)";
  chart.x.min = 0.0;
  chart.x.max = 1.0;
  chart.y.label = "accuracy";
  for (const LayerSensitivity& layer : s.layers) {
    ChartSeries series;
    series.label = layer.weight;
    series.line = true;
    series.x.push_back(layer.sparsity_before);
    series.y.push_back(s.accuracy);
    for (size_t i = 0; i < s.sparsities.size(); ++i) {
      series.x.push_back(s.sparsities[i]);
      series.y.push_back(layer.accuracy[i]);
    }
    chart.series.push_back(std::move(series));
  }
  write_chart(chart, path);
}

}  // namespace

nlohmann::json run_sensitivity_job(const SensitivityJob& job) {
  require(job.split == "test" || job.split == "train",
          "the split must be 'test' or 'train', got '" + job.split + "'");
  require(job.samples >= 0, "samples must be >= 0 (0: the whole split)");
  if (!job.svg.empty()) check_output_file(job.svg, ".svg");
  const Model model = read_model(job.model);
  Dataset data = load_data_for_model(model, job.data, job.split);
  if (job.samples > 0 && job.samples < data.size()) {
    std::vector<int64_t> order(static_cast<size_t>(data.size()));
    for (int64_t i = 0; i < data.size(); ++i) order[static_cast<size_t>(i)] = i;
    Rng rng(job.seed);
    rng.shuffle(order);
    order.resize(static_cast<size_t>(job.samples));
    std::sort(order.begin(), order.end());
    data = data.subset(order);
  }
  // Magnitude needs no data; the loss-based criteria calibrate on the training split.
  std::optional<Dataset> train;
  PassContext context;
  context.finetune.seed = job.seed;
  if (job.options.criterion != "magnitude") {
    train = load_data_for_model(model, job.data, "train");
    context.train = &*train;
  }
  const Sensitivity result = layer_sensitivity(model, data, context, job.options);
  nlohmann::json report = result.to_json();
  report["command"] = "sensitivity";
  report["model"] = job.model;
  report["data"] = job.data;
  report["split"] = job.split;
  if (!job.svg.empty()) {
    draw(result, job.model, job.svg);
    report["svg"] = job.svg;
  }
  return report;
}

}  // namespace shrink
