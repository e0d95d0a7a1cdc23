#include "shrink/train/evaluator.hpp"

#include "shrink/core/error.hpp"
#include "shrink/nn/fused_execution.hpp"
#include "shrink/nn/loss.hpp"

#include <chrono>
#include <cmath>
#include <utility>

namespace shrink {
namespace {

// Position of `label` when the logits are sorted from largest to smallest, ties broken by the
// lower index (so rank 0 is exactly "argmax, first index wins"). A NaN logit anywhere ranks
// above the label, so a diverged model never scores.
int64_t label_rank(const float* logits, int64_t classes, int32_t label) {
  const float target = logits[label];
  if (std::isnan(target)) return classes;
  int64_t rank = 0;
  for (int64_t j = 0; j < classes; ++j)
    rank += logits[j] > target || (logits[j] == target && j < label) || std::isnan(logits[j]);
  return rank;
}

// The top-1 class (first index of the largest logit; -1 when any logit is NaN) and its softmax
// probability.
std::pair<int32_t, float> top1(const float* logits, int64_t classes) {
  int32_t best = 0;
  for (int64_t j = 0; j < classes; ++j) {
    if (std::isnan(logits[j])) return {-1, 0.0f};
    if (logits[j] > logits[best]) best = static_cast<int32_t>(j);
  }
  double sum = 0.0;
  for (int64_t j = 0; j < classes; ++j) sum += std::exp(static_cast<double>(logits[j]) - logits[best]);
  return {best, static_cast<float>(1.0 / sum)};
}

}  // namespace

nlohmann::json Evaluation::to_json() const {
  nlohmann::json j = {{"accuracy", accuracy},
                      {"top5_accuracy", top5_accuracy},
                      {"loss", loss},
                      {"samples", samples},
                      {"seconds", seconds},
                      {"samples_per_s", samples_per_s},
                      {"per_class_accuracy", per_class_accuracy},
                      {"per_class_count", per_class_count}};
  if (!class_names.empty()) j["classes"] = class_names;
  return j;
}

void require_compatible(const Model& model, const Dataset& data) {
  const std::string dataset = "dataset " + (data.name.empty() ? std::string("(unnamed)") : data.name);
  require(model.inputs().size() == 1,
          "the model takes " + std::to_string(model.inputs().size()) + " inputs, but training "
          "and evaluation feed it one tensor per sample from " + dataset);
  require(model.input_shape() == data.sample_shape,
          "model expects input " + to_string(model.input_shape()) + " but " + dataset +
              " has samples of shape " + to_string(data.sample_shape));
  const Shape output = model.output_shape();
  require(output.size() == 1,
          "model output " + to_string(output) + " is not one logit per class; " + dataset +
              " needs [" + std::to_string(data.num_classes) + "]");
  require(output[0] >= data.num_classes,
          "model gives " + std::to_string(output[0]) + " outputs but " + dataset + " has " +
              std::to_string(data.num_classes) + " classes");
  require(data.size() > 0, dataset + " has no samples");
}

Evaluation evaluate(Model& model, const Dataset& data, int64_t batch_size) {
  require(batch_size > 0, "the evaluation batch size must be positive, got " + std::to_string(batch_size));
  require_compatible(model, data);
  const auto start = std::chrono::steady_clock::now();
  const int64_t classes = model.output_shape()[0];

  Evaluation result;
  result.class_names = data.class_names;
  result.per_class_count.assign(static_cast<size_t>(data.num_classes), 0);
  result.predictions.reserve(static_cast<size_t>(data.size()));
  result.confidences.reserve(static_cast<size_t>(data.size()));
  std::vector<int64_t> per_class_correct(static_cast<size_t>(data.num_classes), 0);
  int64_t correct = 0;
  int64_t correct5 = 0;
  double loss_sum = 0.0;

  BatchSampler sampler(data.size(), batch_size, /*shuffle=*/false, /*seed=*/0);
  std::vector<int64_t> indices;
  std::vector<int32_t> labels;
  Tensor x, assembled;
  // Throughput is timed from the end of the first batch, which alone pays the one-time costs
  // (first touch of every activation buffer, thread start): the steady rate a user gets on a
  // long run, and what a warmed-up peer measures. `seconds` covers the whole pass.
  int64_t first_batch = 0;
  auto steady_start = start;
  while (sampler.next(indices)) {
    data.gather(indices, x, labels);
    const Tensor& logits = forward_in_slices(model, {&x}, assembled);
    const int64_t n = static_cast<int64_t>(labels.size());
    loss_sum += static_cast<double>(cross_entropy(logits, labels)) * static_cast<double>(n);
    for (int64_t i = 0; i < n; ++i) {
      const int32_t label = labels[static_cast<size_t>(i)];
      const int64_t rank = label_rank(logits.data() + i * classes, classes, label);
      const auto [prediction, confidence] = top1(logits.data() + i * classes, classes);
      result.predictions.push_back(prediction);
      result.confidences.push_back(confidence);
      correct += rank == 0;
      correct5 += rank < 5;
      ++result.per_class_count[static_cast<size_t>(label)];
      per_class_correct[static_cast<size_t>(label)] += rank == 0;
    }
    if (first_batch == 0) {
      first_batch = n;
      steady_start = std::chrono::steady_clock::now();
    }
  }

  const double total = static_cast<double>(data.size());
  result.samples = data.size();
  result.accuracy = static_cast<double>(correct) / total;
  result.top5_accuracy = static_cast<double>(correct5) / total;
  result.loss = loss_sum / total;
  result.per_class_accuracy.resize(per_class_correct.size());
  for (size_t c = 0; c < per_class_correct.size(); ++c)
    result.per_class_accuracy[c] =
        result.per_class_count[c] == 0
            ? 0.0
            : static_cast<double>(per_class_correct[c]) / static_cast<double>(result.per_class_count[c]);
  const auto end = std::chrono::steady_clock::now();
  result.seconds = std::chrono::duration<double>(end - start).count();
  const double steady_seconds = std::chrono::duration<double>(end - steady_start).count();
  const double steady_samples = total - static_cast<double>(first_batch);
  result.samples_per_s = steady_samples > 0.0 && steady_seconds > 0.0
                             ? steady_samples / steady_seconds
                             : (result.seconds > 0.0 ? total / result.seconds : 0.0);
  return result;
}

}  // namespace shrink
