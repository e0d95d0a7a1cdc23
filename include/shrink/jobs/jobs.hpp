#pragma once
// One function per user-level task. The CLI parses flags into these structs and prints the
// returned report; tests and C++ users call the same functions in-process.
#include "shrink/compress/pass.hpp"
#include "shrink/report/latency.hpp"
#include "shrink/train/trainer.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <string>

namespace shrink {

// Callbacks for long work (all optional).
struct JobObserver {
  std::function<void(int64_t done, int64_t total, const std::string& what)> progress;
  std::function<void(const EpochStats&)> epoch;
};

struct TrainJob {
  std::string architecture = "lenet5";  // a built-in name or a .json graph file
  nlohmann::json architecture_options = nlohmann::json::object();
  std::string data = "fashion-mnist";
  TrainConfig config;
  std::string output;  // .shrk (or .onnx) path for the trained model
  bool evaluate_test = true;
  // Passes run on the freshly initialised model before training (pruning at initialisation,
  // quantizing a network that trains quantized), and terms added to the objective.
  Recipe at_init;
  TrainingTerms terms;
};
// Trains from scratch, evaluates on the test split and saves the model with its provenance.
// Report: architecture, data, config, epochs[], test{...}, accuracy, train_samples_per_s,
// parameters, macs, file_bytes, output, energy{per_inference, job} (report/energy_report.hpp).
nlohmann::json run_train_job(const TrainJob& job, const JobObserver& observer = {});

struct EvalJob {
  std::string model;
  std::string data = "fashion-mnist";
  std::string split = "test";
  int64_t batch_size = 256;
  // A reference model (the dense original) to compare with: per-class accuracy of both, the
  // classes hurt most and the samples whose prediction changed.
  std::string compare;
  std::string changed_samples_svg;  // with compare: a grid of the changed samples, drawn here
};
// Report: accuracy (0..1), top5_accuracy, loss, samples, seconds, samples_per_s,
// per_class_accuracy, model, data, split, energy{per_inference, job}; with compare:
// compare{model, accuracy, accuracy_change}, class_impact{...} (report/class_impact.hpp) and
// energy.per_inference_compare.
nlohmann::json run_eval_job(const EvalJob& job);

struct InspectJob {
  std::string model;
};
// Report: the model summary (per-layer shapes, parameters, non-zeros, encodings, bytes, MACs)
// plus input shape, metadata and the table text under "table".
nlohmann::json run_inspect_job(const InspectJob& job);

struct CompressJob {
  std::string model;
  std::string output;
  std::string data = "fashion-mnist";  // test split measures accuracy; train split fine-tunes
  Recipe recipe;
  TrainConfig finetune;  // defaults for fine-tuning passes
  TrainingTerms terms;   // added to every pass that trains
  bool evaluate = true;
  std::string changed_samples_svg;  // a grid of the test samples whose prediction changed
  // Inference time of the model before and after, timed in alternation at each batch size
  // (none: not measured).
  std::vector<int64_t> latency_batches = {1, 256};
  LatencyOptions latency;
};
// Runs the recipe and saves the result. Report: accuracy_before, accuracy_after,
// file_bytes_before, file_bytes_after, compression_ratio, sparsity, parameters_before/after,
// macs_before/after, layers[] (per compressible weight: format, bits, stored bytes),
// layer_changes[] (channels, parameters and MACs before -> after per layer, and
// layer_changes_table as text), latency[] (per batch: before, after, speedup), passes[],
// class_impact (per-class accuracy before and after, changed samples), energy (per inference
// before and after, the compression's own energy and the break-even; report/energy_report.hpp),
// and more.
nlohmann::json run_compress_job(CompressJob& job, const JobObserver& observer = {});

}  // namespace shrink
