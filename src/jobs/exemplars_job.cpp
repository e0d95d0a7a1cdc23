#include "shrink/jobs/exemplars_job.hpp"

#include "jobs/job_support.hpp"
#include "shrink/core/error.hpp"
#include "shrink/core/file.hpp"
#include "shrink/io/model_file.hpp"
#include "shrink/report/class_impact.hpp"
#include "shrink/report/sample_grid.hpp"
#include "shrink/train/evaluator.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

namespace shrink {
namespace {

// Each model's predictions on the split; the dataset of the first model is kept for labels and
// images (the samples are the same whatever the normalization).
std::vector<std::vector<int32_t>> predictions(const std::vector<std::string>& paths, const ExemplarsJob& job,
                                              std::optional<Dataset>& first, Shape& output_shape) {
  std::vector<std::vector<int32_t>> out;
  for (const std::string& path : paths) {
    Model model = read_model(path);
    if (output_shape.empty()) output_shape = model.output_shape();
    require(model.output_shape() == output_shape, "cannot compare " + path + " with " + job.dense.front() +
                                                      ": their outputs differ (" + to_string(model.output_shape()) +
                                                      " against " + to_string(output_shape) + ")");
    Dataset data = load_data_for_model(model, job.data, job.split);
    out.push_back(evaluate(model, data, job.batch_size).predictions);
    if (!first) first = std::move(data);
  }
  return out;
}

}  // namespace

nlohmann::json run_exemplars_job(const ExemplarsJob& job) {
  require(!job.dense.empty(), "give the dense models: --dense MODEL...");
  require(!job.compressed.empty(), "give the compressed models: --compressed MODEL... (e.g. a sweep's seeds)");
  if (!job.svg.empty()) check_output_file(job.svg, ".svg");
  std::optional<Dataset> data;
  Shape output_shape;
  const auto dense = predictions(job.dense, job, data, output_shape);
  const auto compressed = predictions(job.compressed, job, data, output_shape);

  const std::vector<int64_t> exemplars = compression_identified_exemplars(dense, compressed);
  const std::vector<int32_t> dense_modal = modal_predictions(dense), compressed_modal = modal_predictions(compressed);
  const std::vector<int32_t> labels = data->labels();
  std::vector<int64_t> per_class(data->class_names.size(), 0);
  int64_t dense_right = 0, compressed_right = 0;
  std::vector<ChangedSample> samples;
  nlohmann::json listed = nlohmann::json::array();
  for (const int64_t i : exemplars) {
    const auto s = static_cast<size_t>(i);
    ++per_class[static_cast<size_t>(labels[s])];
    dense_right += dense_modal[s] == labels[s];
    compressed_right += compressed_modal[s] == labels[s];
    ChangedSample sample;
    sample.index = i;
    sample.label = labels[s];
    sample.before = dense_modal[s];
    sample.after = compressed_modal[s];
    samples.push_back(sample);
    if (listed.size() < 100)
      listed.push_back({{"index", i}, {"label", labels[s]}, {"dense", dense_modal[s]}, {"compressed", compressed_modal[s]}});
  }
  const auto count = static_cast<int64_t>(exemplars.size());
  const auto total = static_cast<int64_t>(labels.size());
  nlohmann::json report = {{"command", "exemplars"},
                           {"dense", job.dense},
                           {"compressed", job.compressed},
                           {"data", job.data},
                           {"split", job.split},
                           {"classes", data->class_names},
                           {"samples", total},
                           {"exemplars", count},
                           {"fraction", static_cast<double>(count) / static_cast<double>(total)},
                           {"per_class", per_class},
                           {"accuracy_dense", count ? static_cast<double>(dense_right) / count : 0.0},
                           {"accuracy_compressed", count ? static_cast<double>(compressed_right) / count : 0.0},
                           {"indices", exemplars},
                           {"listed", listed}};
  if (!job.svg.empty()) {
    if (samples_are_images(*data)) {
      write_file_atomic(job.svg, changed_samples_svg(*data, samples, 48, "dense", "compressed"));
      report["svg"] = job.svg;
    } else {
      spdlog::warn("not drawing {}: the samples of {} are not images", job.svg, data->name);
    }
  }
  return report;
}

}  // namespace shrink
