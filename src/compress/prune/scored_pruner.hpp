#pragma once
// The part every unstructured pruning criterion shares: which weights it acts on (sparsity,
// scope, exclude), the checks on them, and the selection of the lowest-scored weights into the
// masks. A criterion (magnitude, SNIP, OBD, Fisher, Taylor, OBS) only says how important each
// weight is; schedules (AGP, iterative, lottery tickets) reuse the same selection.
#include "../pass_options.hpp"  // relative, so tests reach this private header by path
#include "shrink/compress/pass.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace shrink {

// The options of every unstructured pruning pass and schedule.
struct PruningTarget {
  double sparsity = 0.5;          // fraction of the weights pruned in the end, in [0, 1)
  std::string scope = "global";   // "global": one ranking over every weight; "layer": each
                                  // weight tensor pruned to `sparsity` on its own
  std::vector<std::string> exclude;  // layers (node or parameter names) left dense

  // Reads "sparsity", "scope" and "exclude"; `what` names the pass or term in errors.
  static PruningTarget read(JsonOptions& options, const std::string& what,
                            double default_sparsity = 0.5);
  nlohmann::json to_json() const;
  // The weights this target prunes: the model's compressible weights minus `exclude`, each
  // checked to hold only finite values and given a mask (all ones) if it had none.
  std::vector<Parameter*> weights(Model& model) const;
};

// Throws a bad-input Error naming `p` when one of its values is NaN or infinite: such a weight
// has no place in an ordering by score, and means the model itself is broken.
void require_finite(const Parameter& p);

// Fraction of p's elements that are zero; 0 for an empty tensor.
double sparsity_of(const Parameter& p);
// {name: sparsity_of(p)} for each weight: the per-layer sparsity a pass reports.
nlohmann::json layer_sparsity(const std::vector<Parameter*>& weights);

// Marks the weights of lowest score pruned (mask 0) until `sparsity` of them are pruned: of each
// tensor on its own (scope "layer") or of all of them together (scope "global"). `scores` holds
// one tensor per weight, of its shape; higher means more important. Weights already pruned stay
// pruned and count toward the target, so a lower target prunes nothing more. Ties go by
// position, so the same scores always give the same masks. Scores must be finite (a bad-input
// Error names the tensor otherwise). Only the masks change: apply_mask() zeroes the values.
void prune_lowest_scores(const std::vector<Parameter*>& weights,
                                   const std::vector<Tensor>& scores, double sparsity,
                                   const std::string& scope);

// How important each weight is, by one criterion.
class PruningCriterion {
 public:
  virtual ~PruningCriterion() = default;
  // The criterion's own options, for reports and recipes.
  virtual nlohmann::json options() const { return nlohmann::json::object(); }
  // Whether scores() ranks pruned weights too, by their values at the pass's start (kept in
  // the model until the pass ends) and the gradient of the network with the current masks in
  // force: what the pass's "regrow" option needs to bring a pruned weight back.
  virtual bool scores_pruned_weights() const { return false; }
  // One score tensor per weight, of its shape; higher means keep.
  virtual std::vector<Tensor> scores(Model& model, const std::vector<Parameter*>& weights,
                                     PassContext& context) = 0;
  // Called after the new masks are set and before the pruned values are zeroed, with the masks
  // as they were before: a criterion may move the surviving weights to make up for the removed
  // ones (Optimal Brain Surgeon).
  virtual void compensate(const std::vector<Parameter*>& weights,
                          const std::vector<Tensor>& masks_before) {
    (void)weights, (void)masks_before;
  }
};

// Reads the criterion's own options from the pass's options.
using CriterionFactory = std::function<std::unique_ptr<PruningCriterion>(PassOptions&)>;

// A pass "prune.<criterion>" with the PruningTarget options plus the criterion's.
std::unique_ptr<Pass> make_scored_pruner(const std::string& pass_name,
                                         const nlohmann::json& options,
                                         const CriterionFactory& criterion);

}  // namespace shrink
