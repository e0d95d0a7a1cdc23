#include "jobs/job_support.hpp"
#include "nn/quant/code_groups.hpp"
#include "shrink/core/error.hpp"
#include "shrink/io/code_statistics.hpp"
#include "shrink/io/container.hpp"
#include "shrink/io/model_file.hpp"
#include "shrink/io/tensor_encoding.hpp"
#include "shrink/jobs/jobs.hpp"
#include "shrink/nn/int8_execution.hpp"
#include "shrink/nn/weights.hpp"
#include "shrink/report/comparison.hpp"
#include "shrink/report/energy_report.hpp"
#include "shrink/train/evaluator.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <map>
#include <optional>

namespace shrink {
namespace {

// Per compressible weight: its format, bits per code and per weight (pq: a code per d weights), how and in how many bytes the output stores it
// (for a .shrk output), the entropy of its codes and gaps, and the relative error of the last
// pass that quantized it.
nlohmann::json layer_report(const Model& model, const std::string& output,
                            const nlohmann::json& sections) {
  std::map<std::string, TensorRecord> stored;
  if (std::filesystem::path(output).extension() == ".shrk")
    for (TensorRecord& record : list_tensors(output)) stored[record.name] = std::move(record);
  nlohmann::json layers = nlohmann::json::array();
  for (const Parameter* p : compressible_weights(model)) {
    nlohmann::json row = {{"name", p->name},
                          {"format", p->quantized() ? p->quantizer()->format().name : "fp32"},
                          {"bits", p->quantized() ? p->quantizer()->bits() : 32},
                          {"bits_per_weight",
                           p->quantized() ? quant::bits_per_element(*p->quantizer(), p->value.shape()) : 32.0},
                          {"fp32_bytes", p->value.numel() * 4}};
    if (auto it = stored.find(p->name); it != stored.end()) {
      row["encoding"] = it->second.encoding;
      row["bytes"] = it->second.bytes;
    }
    // What an ideal order-0 coder would spend on the codes and positions, beside the bytes.
    if (const auto statistics = code_statistics(*p)) {
      row["code_entropy_bits"] = statistics->code_entropy_bits;
      row["gap_entropy_bits"] = statistics->gap_entropy_bits;
      row["entropy_bytes"] = statistics->entropy_bytes();
    }
    for (const auto& section : sections)
      if (section.contains("layers") && section["layers"].contains(p->name) &&
          section["layers"][p->name].contains("relative_mse"))
        row["relative_mse"] = section["layers"][p->name]["relative_mse"];
    layers.push_back(row);
  }
  return layers;
}

// One row of the per-stage table: the model's .shrk bytes (as saved; and without Huffman coding,
// Deep Compression's "+ quantization" column), weight sparsity and test accuracy.
nlohmann::json stage_row(const std::string& stage, Model& model, const Dataset* test_data) {
  nlohmann::json row = {{"stage", stage}, {"sparsity", weight_sparsity(model).sparsity()}};
  try {
    const int64_t bytes = static_cast<int64_t>(serialize_model(model).size());
    int64_t without = bytes;
    for (const Parameter* p : compressible_weights(model)) {
      const int64_t packed = bytes_without_entropy_coding(*p);
      if (packed != kNotApplicable) without += packed - choose_tensor_encoding(*p).encoded_size(*p);
    }
    row["bytes"] = bytes;
    row["bytes_without_entropy_coding"] = without;
  } catch (const Error& e) {
    // A stage that leaves the model unsaveable for now (INQ part-way) has no size.
    spdlog::debug("no size after {}: {}", stage, e.what());
  }
  if (test_data) row["accuracy"] = evaluate(model, *test_data).accuracy;
  return row;
}

}  // namespace

nlohmann::json run_compress_job(CompressJob& job, const JobObserver& observer) {
  const EnergyMeter job_meter;
  check_output_path(job.output, job.model);
  require(!job.recipe.empty(), "nothing to do: give a compression (--prune ..., --quantize ...) or --recipe FILE");
  if (!job.changed_samples_svg.empty()) {
    require(job.evaluate, "the changed samples need the test evaluation before and after");
    check_output_file(job.changed_samples_svg, ".svg");
  }
  Model model = read_model(job.model);
  const int64_t bytes_before = file_bytes(job.model);
  warn_about_unmasked_zeros(model, "to keep their zeros pruned through fine-tuning, first run "
                                   "shrink convert " + job.model + " MODEL.shrk --masks-from-zeros");
  const InferenceEnergy energy_before = inference_energy(model, summarize_file(model, job.model));

  nlohmann::json report = {{"command", "compress"},
                           {"model", job.model},
                           {"output", job.output},
                           {"data", job.data},
                           {"recipe", job.recipe.to_json()}};
  Dataset test_data;
  Evaluation before;
  if (job.evaluate) {
    test_data = load_data_for_model(model, job.data, "test");
    before = evaluate(model, test_data);
    spdlog::info("accuracy before: {:.2f}%", 100.0 * before.accuracy);
    report["accuracy_before"] = before.accuracy;
    report["loss_before"] = before.loss;
  }
  report["macs_before"] = effective_macs(model);
  report["sparsity_before"] = weight_sparsity(model).sparsity();

  // The model as it was: for the per-layer comparison and the timing, and the teacher that
  // recovery by distillation learns from.
  Model original = model.clone();
  Dataset train_data = load_data_for_model(model, job.data, "train");
  PassContext context;
  context.train = &train_data;
  if (job.recipe.needs_teacher()) context.teacher = &original;
  context.finetune = job.finetune;
  context.terms = job.terms;
  context.progress = observer.progress;
  // Set before the passes, so the per-stage sizes are the saved file's.
  model.metadata["compression"] = {{"recipe", job.recipe.to_json()}, {"source", job.model}};
  const EnergyMeter compression_meter(job_meter.settings());
  report["stages"] = {{{"stage", "original"}, {"bytes", bytes_before},
                       {"sparsity", report["sparsity_before"]}}};
  if (job.evaluate) report["stages"][0]["accuracy"] = before.accuracy;
  job.recipe.run(model, context, [&](const Pass& pass, Model& current) {
    report["stages"].push_back(stage_row(pass.name(), current, job.evaluate ? &test_data : nullptr));
  });
  const JobEnergy compression_energy = compression_meter.read();
  report["passes"] = context.sections;
  const ModelComparison comparison = compare_models(original, model);
  report["parameters_before"] = comparison.parameters_before;
  report["parameters_after"] = comparison.parameters_after;
  report["layer_changes"] = comparison.to_json()["layers"];
  report["layer_changes_table"] = comparison.to_table();
  report["shapes_changed"] = comparison.shapes_changed();
  report["latency"] = nlohmann::json::array();
  // Timed as eval and run execute them: an int8 (QDQ) model on its int8 kernels, unless
  // SHRINK_INT8=off.
  std::optional<Model> original_lowered, model_lowered;
  if (!job.latency_batches.empty()) {
    original_lowered = int8_inference_model(original);
    model_lowered = int8_inference_model(model);
  }
  for (int64_t batch : job.latency_batches) {
    const LatencyComparison latency =
        compare_latency(original_lowered ? *original_lowered : original,
                        model_lowered ? *model_lowered : model, batch, job.latency);
    spdlog::info("latency at batch {}: {:.3f} ms -> {:.3f} ms ({:.2f}x)", batch,
                 latency.before.median_ms, latency.after.median_ms, latency.speedup());
    report["latency"].push_back(latency.to_json());
  }

  if (job.evaluate) {
    const Evaluation after = evaluate(model, test_data);
    spdlog::info("accuracy after: {:.2f}%", 100.0 * after.accuracy);
    report["accuracy_after"] = after.accuracy;
    report["loss_after"] = after.loss;
    report["accuracy_change"] = after.accuracy - report["accuracy_before"].get<double>();
    report["class_impact"] =
        class_impact_section(before, after, test_data, job.changed_samples_svg, "before", "after");
  }
  warn_if_onnx_dequantizes(model, job.output);
  write_model(model, job.output);

  const int64_t bytes_after = file_bytes(job.output);
  const SparsityStats sparsity = weight_sparsity(model);
  if (sparsity.zeros > 0 && std::filesystem::path(job.output).extension() == ".onnx")
    spdlog::warn("{} holds its pruned weights dense, as ONNX runtimes expect, so the file does "
                 "not shrink; save to .shrk to store them sparse",
                 job.output);
  report["file_bytes_before"] = bytes_before;
  report["file_bytes_after"] = bytes_after;
  report["compression_ratio"] = static_cast<double>(bytes_before) / static_cast<double>(bytes_after);
  report["sparsity"] = sparsity.sparsity();
  report["weights"] = sparsity.weights;
  report["zero_weights"] = sparsity.zeros;
  report["macs_after"] = effective_macs(model);
  const InferenceEnergy energy_after = inference_energy(model, summarize_file(model, job.output));
  report["energy"] = compression_energy_section(energy_before, energy_after, compression_energy, job_meter.read());
  report["layers"] = layer_report(model, job.output, context.sections);
  return report;
}

}  // namespace shrink
