// shrink distill: trains a student from teachers with distillation losses and saves it.
#include "command.hpp"

#include "shrink/core/error.hpp"
#include "shrink/jobs/distill_job.hpp"
#include "shrink/nn/architectures.hpp"

#include <cstdio>
#include <memory>

namespace shrink::cli {
namespace {

struct DistillFlags {
  CommonOptions common;
  DistillJob job;
  std::vector<int64_t> hidden;
  std::string architecture_options;
  std::vector<std::string> losses;
};

void print_accuracy(const char* what, const nlohmann::json& report) {
  if (report.contains("accuracy"))
    std::printf("%s test accuracy %.2f%%\n", what, 100.0 * report["accuracy"].get<double>());
}

void run(DistillFlags& flags) {
  apply_common_options(flags.common);
  DistillJob& job = flags.job;
  job.config.seed = flags.common.seed;
  job.student_options = architecture_options(flags.architecture_options, flags.hidden);
  if (!flags.losses.empty()) {
    job.losses = nlohmann::json::array();
    for (const auto& text : flags.losses) job.losses.push_back(distillation_loss("--loss", text));
  }

  ProgressBar bar("distill", progress_enabled(flags.common));
  JobObserver observer;
  observer.progress = [&](int64_t done, int64_t total, const std::string&) { bar.update(done, total); };
  observer.epoch = [&](const EpochStats& s) {
    bar.update(0, 0);
    log_epoch(s);
  };
  const nlohmann::json report = run_distill_job(job, observer);
  write_report(flags.common, report);
  for (const auto& teacher : report["teachers"])
    print_accuracy(("teacher " + teacher["model"].get<std::string>()).c_str(), teacher);
  if (report.contains("baseline")) print_accuracy("student alone:", report["baseline"]);
  for (const auto& generation : report["generations"])
    print_accuracy(("student, generation " + std::to_string(generation["generation"].get<int>()) + ":").c_str(),
                   generation);
  if (report.contains("accuracy_over_baseline"))
    std::printf("distillation gain %+.2f points over the student alone\n",
                100.0 * report["accuracy_over_baseline"].get<double>());
  std::printf("saved %s (%lld bytes, %lld parameters)\n", job.output.c_str(),
              report["file_bytes"].get<long long>(), report["student"]["parameters"].get<long long>());
}

}  // namespace

void register_distill(CLI::App& app) {
  auto flags = std::make_shared<DistillFlags>();
  std::string student_help = "The student: a model file (.shrk, .onnx) to start from, a .json graph, or one of:";
  for (const auto& a : list_architectures()) student_help += "\n  " + a.name + ": " + a.description;
  CLI::App* cmd = app.add_subcommand("distill", "Train a small student from larger teachers (knowledge distillation)");
  TrainConfig& c = flags->job.config;
  c.epochs = 10;
  cmd->add_option("--teacher", flags->job.teachers,
                  "A teacher model (.shrk or .onnx); repeat for several. None: born-again from the "
                  "student trained alone");
  cmd->add_option("--teacher-weights", flags->job.teacher_weights,
                  "Each teacher's share of the soft targets, e.g. 0.5,0.5 (default: equal)")
      ->delimiter(',');
  cmd->add_option("--student", flags->job.student, student_help)->required();
  cmd->add_option("--hidden", flags->hidden, "Hidden layer sizes for --student mlp");
  cmd->add_option("--arch-options", flags->architecture_options, "Student architecture options as JSON");
  cmd->add_option("--loss", flags->losses,
                  "A distillation loss, repeatable (default kd): kd:T=4,alpha=0.9; "
                  "hint:student=NODE,teacher=NODE[,weight=1]; attention:student=NODE,teacher=NODE[,p=2,weight=1000]; "
                  "rkd[:student=NODE,teacher=NODE,distance=25,angle=50]; "
                  "fsp:student_from=NODE,student_to=NODE,teacher_from=NODE,teacher_to=NODE[,weight=50]");
  cmd->add_option("--generations", flags->job.generations,
                  "Born-again generations: each after the first learns from the one before")
      ->check(number_in(1, 1000))->capture_default_str();
  cmd->add_flag("--baseline", flags->job.baseline,
                "Also train the student alone with the same recipe and report both");
  cmd->add_option("--data", flags->job.data,
                  "Dataset: fashion-mnist, fashion-mnist:DIR, mnist:DIR or csv:FILE[,label=COL][,header]")
      ->capture_default_str();
  add_training_options(*cmd, c);
  cmd->add_option("-o,--output", flags->job.output, "Where to save the student (.shrk or .onnx)")->required();
  add_common_options(*cmd, flags->common);
  cmd->callback([flags] { run(*flags); });
}

}  // namespace shrink::cli
