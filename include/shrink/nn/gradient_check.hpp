#pragma once
// Finite-difference gradient checks, used by every op and loss test: the analytic gradient of
// a scalar function must match central differences of that function.
#include "shrink/nn/op.hpp"

#include <functional>
#include <string>
#include <vector>

namespace shrink {

struct GradientCheckResult {
  double max_error = 0.0;  // max |analytic - numeric| / max(1, |analytic|, |numeric|)
  std::string worst;       // which tensor and element, for the failure message
};

// Compares `analytic` (d f / d x) with central differences of f around x, perturbing each
// element of x by +-epsilon (evaluated in double from float f). x is restored afterwards.
GradientCheckResult check_gradient(const std::function<double()>& f, Tensor& x,
                                   const Tensor& analytic, const std::string& label,
                                   double epsilon = 1e-2);

// Checks an op's backward: f = sum(output * probe) with a fixed random probe, against every
// input and every trainable parameter. `training` selects the op's training behaviour.
GradientCheckResult check_op_gradients(Op& op, std::vector<Tensor> inputs,
                                       std::vector<Parameter> params, bool training = true,
                                       double epsilon = 1e-2, uint64_t seed = 7);

}  // namespace shrink
