#include "jobs/job_support.hpp"
#include "shrink/io/model_file.hpp"
#include "shrink/jobs/jobs.hpp"
#include "shrink/train/evaluator.hpp"

namespace shrink {

nlohmann::json run_eval_job(const EvalJob& job) {
  Model model = read_model(job.model);
  const Dataset data = load_data_for_model(model, job.data, job.split);
  const Evaluation evaluation = evaluate(model, data, job.batch_size);
  nlohmann::json report = evaluation.to_json();
  report["command"] = "eval";
  report["model"] = job.model;
  report["data"] = job.data;
  report["split"] = job.split;
  report["classes"] = data.class_names;
  return report;
}

}  // namespace shrink
