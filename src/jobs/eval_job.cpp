#include "jobs/job_support.hpp"
#include "shrink/core/error.hpp"
#include "shrink/core/threading.hpp"
#include "shrink/io/model_file.hpp"
#include "shrink/jobs/jobs.hpp"
#include "shrink/nn/fused_execution.hpp"
#include "shrink/nn/int8_execution.hpp"
#include "shrink/report/energy_report.hpp"
#include "shrink/train/evaluator.hpp"

#include <cstdlib>

namespace shrink {
nlohmann::json run_eval_job(const EvalJob& job) {
  const EnergyMeter meter;
  require(job.changed_samples_svg.empty() || !job.compare.empty(),
          "--changed-samples needs --compare BASE: the changed samples are those whose prediction "
          "differs from BASE's");
  if (!job.changed_samples_svg.empty()) check_output_file(job.changed_samples_svg, ".svg");
  Model model = read_model(job.model);
  const Dataset data = load_data_for_model(model, job.data, job.split);
  // A quantized model runs its int8 layers on int8 kernels (SHRINK_INT8=off: the QDQ graph),
  // any other its layers fused with the BatchNorm, residual and ReLU after them (SHRINK_FUSE=off:
  // node by node).
  std::optional<Model> lowered = inference_model(model);
  const double cpu_start = process_cpu_seconds();
  const Evaluation evaluation = evaluate(lowered ? *lowered : model, data, job.batch_size);
  const double cpu_seconds = process_cpu_seconds() - cpu_start;
  nlohmann::json report = evaluation.to_json();
  // The whole pass, first batch included; with one thread, the time the pass keeps a core busy.
  report["cpu_seconds"] = cpu_seconds;
  report["samples_per_cpu_s"] = cpu_seconds > 0.0 ? static_cast<double>(data.size()) / cpu_seconds : 0.0;
  report["command"] = "eval";
  report["model"] = job.model;
  report["data"] = job.data;
  report["split"] = job.split;
  report["classes"] = data.class_names;
  // Lowered with SHRINK_INT8=off means fused in fp32: no int8 layers then.
  const size_t int8_layers = lowered && int8_execution_enabled() ? plan_int8_execution(model).size() : 0;
  report["int8_layers"] = int8_layers;
  if (int8_layers > 0) report["int8_kernels"] = int8_kernel_isa();
  report["fused_layers"] = lowered && int8_layers == 0 ? plan_fusion(model).size() : 0;
  // What decides samples/s besides the model: the threads and how idle ones wait (libgomp reads
  // both variables when it loads; the shrink CLI sets OMP_WAIT_POLICY=passive unless given one).
  auto variable = [](const char* name) -> nlohmann::json {
    const char* value = std::getenv(name);
    return value ? nlohmann::json(value) : nlohmann::json(nullptr);
  };
  report["openmp"] = {{"threads", num_threads()},
                      {"OMP_WAIT_POLICY", variable("OMP_WAIT_POLICY")},
                      {"GOMP_SPINCOUNT", variable("GOMP_SPINCOUNT")}};

  std::optional<InferenceEnergy> compare_energy;
  if (!job.compare.empty()) {
    Model base = read_model(job.compare);
    require(base.input_shape() == model.input_shape() && base.output_shape() == model.output_shape(),
            "cannot compare " + job.model + " with " + job.compare + ": their inputs or outputs differ (" +
                to_string(model.input_shape()) + " -> " + to_string(model.output_shape()) + " against " +
                to_string(base.input_shape()) + " -> " + to_string(base.output_shape()) + ")");
    std::optional<Model> base_lowered = inference_model(base);
    const Evaluation reference = evaluate(base_lowered ? *base_lowered : base, data, job.batch_size);
    report["compare"] = {{"model", job.compare},
                         {"accuracy", reference.accuracy},
                         {"accuracy_change", evaluation.accuracy - reference.accuracy},
                         {"per_class_accuracy", reference.per_class_accuracy}};
    report["class_impact"] =
        class_impact_section(reference, evaluation, data, job.changed_samples_svg, "base", "model");
    compare_energy = inference_energy(base, summarize_file(base, job.compare));
  }
  report["energy"] = energy_section(inference_energy(model, summarize_file(model, job.model)), meter.read());
  if (compare_energy) report["energy"]["per_inference_compare"] = compare_energy->to_json();
  return report;
}

}  // namespace shrink
