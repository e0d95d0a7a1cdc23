#include "jobs/job_support.hpp"
#include "shrink/core/threading.hpp"
#include "shrink/io/model_file.hpp"
#include "shrink/jobs/jobs.hpp"
#include "shrink/nn/architectures.hpp"
#include "shrink/nn/weights.hpp"
#include "shrink/report/energy_report.hpp"
#include "shrink/train/evaluator.hpp"

#include <spdlog/spdlog.h>

namespace shrink {

nlohmann::json run_train_job(const TrainJob& job, const JobObserver& observer) {
  const EnergyMeter meter;
  check_output_path(job.output);
  Dataset train_data = load_dataset(job.data, "train");

  nlohmann::json options = job.architecture_options;
  if (!options.is_object()) options = nlohmann::json::object();
  if (!options.contains("seed")) options["seed"] = job.config.seed;
  Model model = build_architecture(job.architecture, train_data.sample_shape,
                                   train_data.num_classes, options);
  spdlog::info("training {} ({} parameters, {} MACs per sample) on {} ({} samples)",
               job.architecture, model.parameter_count(), model.macs(), train_data.name,
               train_data.size());

  nlohmann::json epochs = nlohmann::json::array();
  auto on_epoch = [&](const EpochStats& stats) {
    epochs.push_back(stats.to_json());
    if (observer.epoch) observer.epoch(stats);
  };
  auto on_progress = [&](int64_t done, int64_t total) {
    if (observer.progress) observer.progress(done, total, "train");
  };
  nlohmann::json at_init = nlohmann::json::array();
  if (!job.at_init.empty()) {
    PassContext context;
    context.train = &train_data;
    context.finetune = job.config;
    job.at_init.run(model, context);
    at_init = context.sections;
  }
  const TrainResult result = train(model, train_data, job.config, on_epoch, on_progress, job.terms);

  record_training(model, train_data, job.data, job.config);

  nlohmann::json report = {{"command", "train"},
                           {"architecture", job.architecture},
                           {"data", job.data},
                           {"config", job.config.to_json()},
                           {"threads", num_threads()},
                           {"epochs", epochs},
                           {"train_samples_per_s", result.samples_per_s},
                           {"train_seconds", result.seconds},
                           {"parameters", model.parameter_count()},
                           {"macs", model.macs()},
                           {"sparsity", weight_sparsity(model).sparsity()}};
  if (!job.at_init.empty()) report["at_init"] = at_init;
  if (!job.terms.empty()) report["terms"] = training_terms_json(job.terms);
  if (job.evaluate_test) {
    const Dataset test_data = load_data_for_model(model, job.data, "test");
    const Evaluation evaluation = evaluate(model, test_data);
    model.metadata["training"]["test_accuracy"] = evaluation.accuracy;
    report["test"] = evaluation.to_json();
    report["accuracy"] = evaluation.accuracy;
    // A CSV without a test split measures "test" accuracy on the training file; say so.
    report["test_is_training_data"] = !has_separate_test_split(job.data);
  }
  warn_if_onnx_dequantizes(model, job.output);
  write_model(model, job.output);
  report["output"] = job.output;
  report["file_bytes"] = file_bytes(job.output);
  report["energy"] = energy_section(inference_energy(model, summarize_file(model, job.output)), meter.read());
  return report;
}

}  // namespace shrink
