#include "shrink/report/class_impact.hpp"

#include "shrink/core/error.hpp"

#include <algorithm>
#include <map>
#include <numeric>

namespace shrink {
namespace {

int kind_rank(const ChangedSample& s) {
  if (s.before == s.label) return 0;  // became wrong
  if (s.after == s.label) return 1;   // became right
  return 2;
}

}  // namespace

std::string ChangedSample::kind() const {
  static const char* const kKinds[] = {"became_wrong", "became_right", "changed_wrong"};
  return kKinds[kind_rank(*this)];
}

ClassImpact class_impact(const std::vector<int32_t>& labels, const std::vector<int32_t>& before,
                         const std::vector<int32_t>& after, const std::vector<float>& confidence_after,
                         const std::vector<std::string>& class_names) {
  require(before.size() == labels.size() && after.size() == labels.size() &&
              (confidence_after.empty() || confidence_after.size() == labels.size()),
          "per-class impact needs one prediction per sample from both models: " +
              std::to_string(labels.size()) + " labels, " + std::to_string(before.size()) + " and " +
              std::to_string(after.size()) + " predictions (were both evaluated on the same split?)");
  const size_t classes = class_names.size();
  ClassImpact impact;
  impact.classes = class_names;
  impact.samples = static_cast<int64_t>(labels.size());
  impact.count.assign(classes, 0);
  impact.became_wrong.assign(classes, 0);
  impact.became_right.assign(classes, 0);
  std::vector<int64_t> right_before(classes, 0), right_after(classes, 0);
  for (size_t i = 0; i < labels.size(); ++i) {
    const int32_t label = labels[i];
    require(label >= 0 && static_cast<size_t>(label) < classes,
            "sample " + std::to_string(i) + " has label " + std::to_string(label) + " outside the " +
                std::to_string(classes) + " classes");
    ++impact.count[label];
    right_before[label] += before[i] == label;
    right_after[label] += after[i] == label;
    if (before[i] == after[i]) continue;
    ChangedSample s{static_cast<int64_t>(i), label, before[i], after[i],
                    confidence_after.empty() ? 0.0f : confidence_after[i]};
    impact.became_wrong[label] += before[i] == label;
    impact.became_right[label] += after[i] == label;
    impact.changed.push_back(s);
  }
  for (size_t c = 0; c < classes; ++c) {
    const double n = static_cast<double>(std::max<int64_t>(impact.count[c], 1));
    impact.accuracy_before.push_back(impact.count[c] ? right_before[c] / n : 0.0);
    impact.accuracy_after.push_back(impact.count[c] ? right_after[c] / n : 0.0);
  }
  impact.hurt_most.resize(classes);
  std::iota(impact.hurt_most.begin(), impact.hurt_most.end(), 0);
  std::stable_sort(impact.hurt_most.begin(), impact.hurt_most.end(),
                   [&](int a, int b) { return impact.accuracy_change(a) < impact.accuracy_change(b); });
  std::stable_sort(impact.changed.begin(), impact.changed.end(),
                   [](const ChangedSample& a, const ChangedSample& b) {
                     if (kind_rank(a) != kind_rank(b)) return kind_rank(a) < kind_rank(b);
                     return a.confidence_after > b.confidence_after;
                   });
  return impact;
}

nlohmann::json ClassImpact::to_json(size_t max_listed) const {
  std::vector<double> change;
  for (size_t c = 0; c < classes.size(); ++c) change.push_back(accuracy_change(static_cast<int>(c)));
  nlohmann::json hurt = nlohmann::json::array();
  for (size_t k = 0; k < std::min<size_t>(3, hurt_most.size()); ++k)
    hurt.push_back({{"class", hurt_most[k]}, {"name", classes[hurt_most[k]]}, {"change", change[hurt_most[k]]}});
  std::vector<int64_t> per_class(classes.size(), 0);
  std::vector<int64_t> indices;
  nlohmann::json listed = nlohmann::json::array();
  for (const ChangedSample& s : changed) {
    ++per_class[s.label];
    indices.push_back(s.index);
    if (listed.size() < max_listed)
      listed.push_back({{"index", s.index}, {"label", s.label}, {"before", s.before}, {"after", s.after},
                        {"confidence_after", s.confidence_after}, {"kind", s.kind()}});
  }
  std::sort(indices.begin(), indices.end());
  int64_t wrong = 0, right = 0;
  for (size_t c = 0; c < classes.size(); ++c) wrong += became_wrong[c], right += became_right[c];
  return {{"classes", classes},
          {"count", count},
          {"accuracy_before", accuracy_before},
          {"accuracy_after", accuracy_after},
          {"accuracy_change", change},
          {"became_wrong", became_wrong},
          {"became_right", became_right},
          {"hurt_most", hurt},
          {"samples", samples},
          {"changed_samples", static_cast<int64_t>(changed.size())},
          {"became_wrong_samples", wrong},
          {"became_right_samples", right},
          {"changed_per_class", per_class},
          {"changed", listed},
          {"changed_indices", indices}};
}

std::vector<int32_t> modal_predictions(const std::vector<std::vector<int32_t>>& predictions) {
  if (predictions.empty()) return {};
  const size_t samples = predictions.front().size();
  for (const auto& row : predictions)
    require(row.size() == samples, "every model must predict the same samples: got " +
                                       std::to_string(row.size()) + " and " + std::to_string(samples));
  std::vector<int32_t> modal(samples, -1);
  std::map<int32_t, int> votes;
  for (size_t i = 0; i < samples; ++i) {
    votes.clear();
    for (const auto& row : predictions)
      if (row[i] >= 0) ++votes[row[i]];
    int best = 0;
    for (const auto& [label, n] : votes)  // ascending labels: ties keep the smallest
      if (n > best) best = n, modal[i] = label;
  }
  return modal;
}

std::vector<int64_t> compression_identified_exemplars(const std::vector<std::vector<int32_t>>& dense,
                                                      const std::vector<std::vector<int32_t>>& compressed) {
  require(!dense.empty() && !compressed.empty(),
          "compression-identified exemplars need predictions of at least one dense and one "
          "compressed model");
  const std::vector<int32_t> a = modal_predictions(dense);
  const std::vector<int32_t> b = modal_predictions(compressed);
  require(a.size() == b.size(), "the dense and compressed models predicted different numbers of samples (" +
                                    std::to_string(a.size()) + " and " + std::to_string(b.size()) + ")");
  std::vector<int64_t> exemplars;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) exemplars.push_back(static_cast<int64_t>(i));
  return exemplars;
}

}  // namespace shrink
