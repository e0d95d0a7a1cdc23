#include "shrink/jobs/distill_job.hpp"

#include "jobs/job_support.hpp"
#include "shrink/compress/distillation.hpp"
#include "shrink/core/error.hpp"
#include "shrink/core/threading.hpp"
#include "shrink/io/model_file.hpp"
#include "shrink/nn/architectures.hpp"
#include "shrink/train/evaluator.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>

namespace shrink {
namespace {

using Json = nlohmann::json;

bool is_model_file(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  return ext == ".shrk" || ext == ".onnx";
}

// Each term's mean loss per epoch (and the weighted cross-entropy's), from the epochs' reports.
Json loss_curves(const Json& epochs) {
  Json curves = Json::object();
  for (const Json& epoch : epochs)
    if (epoch.contains("losses"))
      for (const auto& [term, loss] : epoch["losses"].items()) curves[term].push_back(loss);
  return curves;
}

// The student every run starts from, its data, and how to train and test a copy of it.
class StudentRuns {
 public:
  StudentRuns(const DistillJob& job, const JobObserver& observer) : job_(job), observer_(observer) {
    if (is_model_file(job.student)) {
      initial_ = read_model(job.student);
      train_data_ = load_data_for_model(initial_, job.data, "train");
    } else {
      train_data_ = load_dataset(job.data, "train");
      Json options = job.student_options.is_object() ? job.student_options : Json::object();
      if (!options.contains("seed")) options["seed"] = job.config.seed;
      initial_ = build_architecture(job.student, train_data_.sample_shape, train_data_.num_classes,
                                    options);
    }
    if (job.evaluate_test) test_data_ = load_data_for_model(initial_, job.data, "test");
  }

  const Model& initial() const { return initial_; }
  const Dataset& train_data() const { return train_data_; }

  // Trains a copy of the initial student with `terms`; reports its epochs and test accuracy.
  std::pair<Model, Json> train_one(const TrainingTerms& terms, const std::string& label) {
    Model student = initial_.clone();
    Json epochs = Json::array();
    auto on_epoch = [&](const EpochStats& stats) {
      epochs.push_back(stats.to_json());
      if (observer_.epoch) observer_.epoch(stats);
    };
    auto on_progress = [&](int64_t done, int64_t total) {
      if (observer_.progress) observer_.progress(done, total, label);
    };
    const TrainResult result = train(student, train_data_, job_.config, on_epoch, on_progress, terms);
    Json report = {{"epochs", epochs},
                   {"loss_curves", loss_curves(epochs)},
                   {"train_seconds", result.seconds},
                   {"train_samples_per_s", result.samples_per_s}};
    if (job_.evaluate_test) {
      const Evaluation evaluation = evaluate(student, test_data_);
      spdlog::info("{}: test accuracy {:.2f}%", label, 100.0 * evaluation.accuracy);
      report["test"] = evaluation.to_json();
      report["accuracy"] = evaluation.accuracy;
    }
    return {std::move(student), std::move(report)};
  }

 private:
  const DistillJob& job_;
  const JobObserver& observer_;
  Model initial_;
  Dataset train_data_, test_data_;
};

// The job's teacher files, loaded, with their reports (test accuracy on the job's data).
std::vector<Teacher> load_teachers(const DistillJob& job, Json& reports) {
  require(job.teacher_weights.empty() || job.teacher_weights.size() == job.teachers.size(),
          std::to_string(job.teacher_weights.size()) + " teacher weights for " +
              std::to_string(job.teachers.size()) + " teachers; give one weight per --teacher");
  std::vector<Teacher> teachers;
  double total = 0.0;
  for (size_t i = 0; i < job.teachers.size(); ++i) {
    const double weight = job.teacher_weights.empty() ? 1.0 : job.teacher_weights[i];
    teachers.push_back({std::make_shared<Model>(read_model(job.teachers[i])), weight, job.teachers[i]});
    total += weight;
  }
  for (const Teacher& t : teachers) {
    Json report = {{"model", t.name},
                   {"weight", t.weight / total},
                   {"parameters", t.model->parameter_count()},
                   {"macs", t.model->macs()}};
    if (job.evaluate_test) {
      const Dataset test = load_data_for_model(*t.model, job.data, "test");
      report["accuracy"] = evaluate(*t.model, test).accuracy;
      spdlog::info("teacher {}: test accuracy {:.2f}%", t.name, 100.0 * report["accuracy"].get<double>());
    }
    reports.push_back(report);
  }
  return teachers;
}

}  // namespace

Json run_distill_job(const DistillJob& job, const JobObserver& observer) {
  require(!job.student.empty(), "no student: give an architecture (--student mlp) or a model file");
  check_output_path(job.output, is_model_file(job.student) ? job.student : "");
  for (const std::string& teacher : job.teachers)
    check_output_path(job.output, teacher);
  require(!is_model_file(job.student) || job.student_options.empty(),
          "architecture options (--hidden, --arch-options) shape a new student; " + job.student +
              " is a model file whose architecture is fixed");
  require(job.generations >= 1, "the number of generations must be at least 1, got " +
                                    std::to_string(job.generations));
  bool distills = false;
  for (const auto& term : make_training_terms(job.losses)) distills = distills || is_distillation_term(*term);
  require(distills, "no distillation loss among " + job.losses.dump() +
                        "; give one of kd, hint, attention, rkd, fsp (--loss kd:T=4,alpha=0.9)");

  // The student and its data first: they fail fast, where testing the teachers takes a while.
  StudentRuns runs(job, observer);
  Json teacher_reports = Json::array();
  std::vector<Teacher> teachers = load_teachers(job, teacher_reports);
  const Model& initial = runs.initial();
  spdlog::info("student {} ({} parameters, {} MACs per sample) on {} ({} samples)", job.student,
               initial.parameter_count(), initial.macs(), runs.train_data().name, runs.train_data().size());

  Json report = {{"command", "distill"},
                 {"data", job.data},
                 {"config", job.config.to_json()},
                 {"threads", num_threads()},
                 {"teachers", teacher_reports},
                 {"student", {{"source", job.student},
                              {"options", job.student_options},
                              {"parameters", initial.parameter_count()},
                              {"macs", initial.macs()}}},
                 {"losses", training_terms_json(make_training_terms(job.losses))}};

  // Without teachers the student trained alone is generation 0, the first teacher.
  std::shared_ptr<Model> previous;
  if (job.baseline || teachers.empty()) {
    spdlog::info("training the student alone{}", teachers.empty() ? " (generation 0, the first teacher)" : "");
    auto [alone, alone_report] = runs.train_one({}, "alone");
    report["baseline"] = alone_report;
    previous = std::make_shared<Model>(std::move(alone));
  }

  Json generations = Json::array();
  for (int g = 1; g <= job.generations; ++g) {
    std::vector<Teacher> these = g == 1 && !teachers.empty()
                                     ? teachers
                                     : std::vector<Teacher>{{previous, 1.0, "generation " + std::to_string(g - 1)}};
    Json names = Json::array();
    for (const Teacher& t : these) names.push_back(t.name);
    spdlog::info("generation {}/{}: learning from {}", g, job.generations, names.dump());
    const TrainingTerms terms = make_training_terms(job.losses);
    give_teachers(terms, std::make_shared<TeacherSet>(std::move(these), &runs.train_data().normalization));
    auto [student, generation_report] = runs.train_one(terms, "generation " + std::to_string(g));
    generation_report["generation"] = g;
    generation_report["teachers"] = names;
    generations.push_back(generation_report);
    previous = std::make_shared<Model>(std::move(student));
  }
  report["generations"] = generations;

  const Json& last = generations.back();
  report["loss_curves"] = last["loss_curves"];
  if (last.contains("accuracy")) {
    report["accuracy"] = last["accuracy"];
    if (report.contains("baseline"))
      report["accuracy_over_baseline"] =
          last["accuracy"].get<double>() - report["baseline"]["accuracy"].get<double>();
  }

  Model& student = *previous;
  record_training(student, runs.train_data(), job.data, job.config);
  student.metadata["distillation"] = {{"teachers", job.teachers},
                                      {"losses", report["losses"]},
                                      {"generations", job.generations},
                                      {"student", job.student}};
  if (last.contains("accuracy")) student.metadata["training"]["test_accuracy"] = last["accuracy"];
  write_model(student, job.output);
  report["output"] = job.output;
  report["file_bytes"] = file_bytes(job.output);
  return report;
}

}  // namespace shrink
