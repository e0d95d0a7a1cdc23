#pragma once
// The formulas of the sparsity schedules, as pure functions so tests can check them on
// hand-computed points: AGP's cubic ramp of the target sparsity (Zhu & Gupta 2017), the cosine
// decay of sparse training's update fraction and the per-layer densities it starts from
// (Evci et al. 2020; Mocanu et al. 2018).
#include "shrink/core/tensor.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace shrink {

// Gradual pruning's target at optimizer step t (Zhu & Gupta, "To prune, or not to prune", 2017):
//   s_t = s_f + (s_i − s_f) · (1 − (t − t0) / (t1 − t0))³   for t0 ≤ t ≤ t1,
// s_i before t0 and s_f from t1 on (their n·Δt is t1 − t0). The cube prunes fast while the
// network holds many redundant weights and slowly as few are left. t1 == t0 jumps to s_f at t0.
double agp_sparsity(double initial, double final, int64_t start, int64_t end, int64_t step);

// The fraction of a layer's active weights that sparse training drops and regrows at step t
// (RigL's f_decay): α/2 · (1 + cos(π t / T_end)) before T_end, 0 from T_end on.
double cosine_update_fraction(double alpha, int64_t step, int64_t end);

// The density (fraction of weights kept) of each weight tensor for an overall `sparsity` over
// all of them:
//   "uniform": every layer at 1 − sparsity;
//   "er" (Erdős–Rényi, Mocanu et al. 2018): density ∝ (n_in + n_out) / (n_in · n_out), the fan-in
//     and fan-out of shape[1] and shape[0];
//   "erk" (Erdős–Rényi-Kernel, Evci et al. 2020): density ∝ Σ dims / Π dims, kernel sizes too
//     (the same as "er" for Linear weights).
// With er/erk a layer whose density would exceed 1 is kept dense and the others share what is
// left, as RigL does, so small layers (the classifier) are never starved. The kept counts
// round(density · size) add up to (1 − sparsity) of all weights up to rounding.
std::vector<double> layer_densities(const std::vector<Shape>& shapes, double sparsity,
                                    const std::string& distribution);

}  // namespace shrink
