#pragma once
// The formulas of the sparsity schedules, as pure functions so tests can check them on
// hand-computed points: AGP's cubic ramp of the target sparsity (Zhu & Gupta 2017).
#include <cstdint>

namespace shrink {

// Gradual pruning's target at optimizer step t (Zhu & Gupta, "To prune, or not to prune", 2017):
//   s_t = s_f + (s_i − s_f) · (1 − (t − t0) / (t1 − t0))³   for t0 ≤ t ≤ t1,
// s_i before t0 and s_f from t1 on (their n·Δt is t1 − t0). The cube prunes fast while the
// network holds many redundant weights and slowly as few are left. t1 == t0 jumps to s_f at t0.
double agp_sparsity(double initial, double final, int64_t start, int64_t end, int64_t step);

}  // namespace shrink
