#pragma once
// Hidden units that a pruning mask has cut off. A unit (a Linear row, a Conv2d filter, with the
// weight columns of the layers that read it: a unit of the channel analysis) that keeps no
// input weight passes on a constant; one that keeps no output weight reaches nothing. Either
// way the weights it still has are spent on nothing a constant bias could not do, and at high
// sparsity a criterion can leave many such units behind (SNIP at 95% on LeNet-300-100 leaves
// half of fc1 without input). Vysogorets & Kempe ("Connectivity Matters: Neural Network Pruning
// Through the Lens of Effective Sparsity", JMLR 2023) count only the weights on a path from
// input to output; reclaim_dead_units() gives the rest to the next-ranked connections.
#include "shrink/nn/channel_dependencies.hpp"

#include <functional>
#include <string>
#include <vector>

namespace shrink {

class DeadUnits {
 public:
  // The removable units of `model`'s channel analysis whose weights are among `weights` (the
  // ones a pass prunes; the masks are read when asked). A unit whose producer or consumer is
  // not among them (excluded, or not a Linear/Conv2d weight) counts as having inputs or
  // outputs there; units the analysis cannot follow (model output, residual streams fed by the
  // model input) are left alone.
  DeadUnits(const Model& model, const std::vector<Parameter*>& weights);

  // Units without a kept input weight or without a kept output weight, under the current
  // masks, by the node of their first producer ("fc1": 140); every producer is listed.
  nlohmann::json count() const;

  // Clears `allowed` (one tensor per weight, of its shape) over every weight of each unit dead
  // under the current masks; returns how many of those weights the masks still keep.
  int64_t forbid(std::vector<Tensor>& allowed) const;

 private:
  // The elements of one weight along one axis at one index: a row or a column.
  struct Slice {
    int weight;
    int axis;
    int64_t index;
  };
  struct Unit {
    std::string node;  // its first producer
    std::vector<Slice> inputs, outputs;
    bool fixed_input = false, fixed_output = false;  // reached through weights not pruned
  };
  bool kept(const Slice& s) const;
  bool dead(const Unit& unit) const;
  void for_each(const Slice& s, const std::function<void(int64_t)>& body) const;

  std::vector<Parameter*> weights_;
  std::vector<Unit> units_;
};

// Re-selects the kept weights until no dead unit holds any: `select` sets the masks from
// `masks_before` and the scores (it is called with the dead units' weights already cleared
// from `masks_before`, so they count as pruned and the same number of others are kept).
// Returns the number of kept weights that moved to live units.
int64_t reclaim_dead_units(const DeadUnits& units, const std::vector<Parameter*>& weights,
                           const std::vector<Tensor>& masks_before,
                           const std::function<void()>& select);

}  // namespace shrink
