#pragma once
// What a compressed model got worse at (Hooker et al., "What do compressed deep neural networks
// forget?", 2019): per-class accuracy before and after, the classes hurt most, and the test
// samples whose prediction changed; across seeds, the compression-identified exemplars.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace shrink {

struct ChangedSample {
  int64_t index = 0;  // in the evaluated split
  int32_t label = 0;
  int32_t before = 0;  // prediction of the reference model (-1: NaN logits)
  int32_t after = 0;   // prediction of the compressed model
  float confidence_after = 0;  // the compressed model's probability for its prediction
  // "became_wrong" (right before, wrong after), "became_right", or "changed_wrong" (wrong
  // both times, a different wrong class).
  std::string kind() const;
};

struct ClassImpact {
  std::vector<std::string> classes;
  std::vector<int64_t> count;  // samples per class
  std::vector<double> accuracy_before;
  std::vector<double> accuracy_after;
  std::vector<int64_t> became_wrong;  // per class
  std::vector<int64_t> became_right;  // per class
  std::vector<int> hurt_most;  // classes by accuracy change, worst first (ties: lower index)
  // Every sample whose prediction changed, most telling first: those that became wrong (the
  // most confidently wrong first), then those that became right, then wrong to another wrong.
  std::vector<ChangedSample> changed;
  int64_t samples = 0;

  double accuracy_change(int c) const { return accuracy_after[c] - accuracy_before[c]; }
  // {"classes", "count", "accuracy_before", "accuracy_after", "accuracy_change",
  //  "became_wrong", "became_right", "hurt_most": [{"class", "name", "change"}...] (up to 3),
  //  "changed_samples", "changed_per_class", "changed": [{"index", "label", "before", "after",
  //  "kind"}, ...] (the first `max_listed`), "changed_indices": [every changed index, sorted]}
  nlohmann::json to_json(size_t max_listed = 100) const;
};

// Compares the predictions of a reference and a compressed model on the same labelled samples.
// Throws a bad-input Error when the lengths differ or a label is outside [0, num classes).
ClassImpact class_impact(const std::vector<int32_t>& labels, const std::vector<int32_t>& before,
                         const std::vector<int32_t>& after, const std::vector<float>& confidence_after,
                         const std::vector<std::string>& class_names);

// The most frequent value of each column of `predictions` (one row per model, one column per
// sample), ties to the smallest class; -1 entries (NaN logits) are ignored unless all are -1.
std::vector<int32_t> modal_predictions(const std::vector<std::vector<int32_t>>& predictions);

// Compression-identified exemplars: the samples where the modal prediction of the compressed
// models differs from the modal prediction of the reference (dense) models.
std::vector<int64_t> compression_identified_exemplars(
    const std::vector<std::vector<int32_t>>& dense, const std::vector<std::vector<int32_t>>& compressed);

}  // namespace shrink
