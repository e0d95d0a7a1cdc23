#pragma once
// Finite-difference gradient checks, used by every op and loss test: the analytic gradient of
// a scalar function must match central differences of that function.
#include "shrink/nn/model.hpp"
#include "shrink/nn/op.hpp"

#include <functional>
#include <string>
#include <vector>

namespace shrink {

struct GradientCheckResult {
  // The largest relative error |analytic - numeric| / max(|analytic|, |numeric|, floor): a
  // gradient off by a factor k shows as |1 - k| on every element above the floor, however small
  // the gradient is. The floor is what float rounding can fake: a change of f by
  // kNoiseUlps float ulps of f's size, over the step 2 * epsilon.
  double max_error = 0.0;
  std::string worst;  // which tensor and element, for the failure message
};

// Float ulps of f's size that rounding may move f by between two nearby evaluations.
inline constexpr double kNoiseUlps = 8.0;

// Compares `analytic` (d f / d x) with central differences of f around x, perturbing each
// element of x by +-epsilon (evaluated in double from float f). x is restored afterwards.
// `f_scale` is the size of f's float rounding error: the sum of the magnitudes of the float
// terms f adds up (0 = |f(x)|, at least 1).
GradientCheckResult check_gradient(const std::function<double()>& f, Tensor& x,
                                   const Tensor& analytic, const std::string& label,
                                   double epsilon = 1e-2, double f_scale = 0.0);

// Checks an op's backward: f = sum(output * probe) with a fixed random probe, against every
// input and every trainable parameter. `training` selects the op's training behaviour.
GradientCheckResult check_op_gradients(Op& op, std::vector<Tensor> inputs,
                                       std::vector<Parameter> params, bool training = true,
                                       double epsilon = 1e-2, uint64_t seed = 7);

// Checks Model::backward over a whole model: f = sum(output * probe) with a fixed random probe,
// on `input` in training mode (Dropout draws the same masks every time), differentiated along
// directions in each trainable parameter tensor: the analytic gradient's own direction and
// `random_directions` random ones. Along each, the change of f that the gradient predicts,
// sum(grad * step), is compared with f(value + step) - f(value - step); the step is the float
// difference actually stored, so rounding the weights costs nothing. A directional check costs
// two forward passes per direction whatever the tensor's size, and moving a whole tensor at once
// makes the change of f large beside the float noise of the forward pass, so the tolerance can
// be tight enough to notice one branch of a value with several consumers scaled by 0.9. A
// tensor whose gradient is zero is moved along a random direction instead, so a dropped gradient
// shows as a change of f that nothing predicted.
struct ModelGradientCheckOptions {
  // The largest step along a direction whose elements have RMS 1; along the gradient the step
  // is shorter where that already changes f by 10^4 times its float noise.
  double epsilon = 1e-4;
  // Per parameter tensor, besides the gradient's own direction. Off by default: along a random
  // direction f changes about sqrt(n) times less than along the gradient, so in a model with
  // ReLUs or max pools the kinks the step crosses outweigh the change being measured.
  int random_directions = 0;
  uint64_t seed = 7;  // probe and random directions
};
// The error divides by at least kNoiseUlps float ulps of sum(|output * probe|), the change of f
// float rounding alone can make.

GradientCheckResult check_model_gradients(Model& model, const Tensor& input,
                                          const ModelGradientCheckOptions& options = {});

}  // namespace shrink
