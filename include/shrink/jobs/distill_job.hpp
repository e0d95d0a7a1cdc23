#pragma once
// shrink distill: trains a student from one or more teachers with distillation losses, over one
// or more born-again generations, optionally beside the same student trained alone.
#include "shrink/jobs/jobs.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace shrink {

struct DistillJob {
  // Teacher model files (.shrk or .onnx). With none, the student first trains alone and that
  // model teaches the first generation (born-again self-distillation).
  std::vector<std::string> teachers;
  std::vector<double> teacher_weights;  // one per teacher; empty = equal shares
  // An architecture as `shrink train --arch` takes it (with `student_options`, e.g.
  // {"hidden": [64]}), or a .shrk/.onnx model whose weights (and masks) every run starts from.
  std::string student;
  nlohmann::json student_options = nlohmann::json::object();
  std::string data = "fashion-mnist";
  TrainConfig config;
  // The objective's terms, [{"term": "kd", "T": 4, "alpha": 0.9}, ...]: built afresh for every
  // run, given the run's teachers. At least one must be a distillation loss.
  nlohmann::json losses = nlohmann::json::array({{{"term", "kd"}}});
  // Born-again generations: generation 1 learns from the teachers, each later one from the
  // generation before it. Every run starts from the same initial student and sees the batches in
  // the same order, so runs differ only in what they learn from.
  int generations = 1;
  bool baseline = false;  // also train the student alone (cross-entropy only) with the same recipe
  std::string output;     // the last generation's student (.shrk or .onnx)
  bool evaluate_test = true;
};

// Report: command, data, config, threads, teachers[] (model, weight, parameters, macs, accuracy),
// student (source, parameters, macs), losses, baseline {epochs, accuracy, test} when trained,
// generations[] (generation, teachers, epochs with per-term "losses", loss_curves, accuracy,
// test), accuracy (the saved student's), accuracy_over_baseline, loss_curves (the last
// generation's: each term's and the cross-entropy's mean per epoch), output, file_bytes.
nlohmann::json run_distill_job(const DistillJob& job, const JobObserver& observer = {});

}  // namespace shrink
