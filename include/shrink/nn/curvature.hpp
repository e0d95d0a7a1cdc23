#pragma once
// The diagonal of the Gauss–Newton curvature of a loss with respect to every weight, by a
// second-order backward pass (LeCun, Denker & Solla, "Optimal Brain Damage", 1990). Where the
// ordinary backward pass carries dL/dy back through each op, this one carries the diagonal
// curvature d2y = d²L/dy² (never negative) and keeps only what the paper keeps:
//
//   d2x_j = Σ_k (∂y_k/∂x_j)² · d2y_k        and, for a weight θ_j,  h_j = Σ_k (∂y_k/∂θ_j)² · d2y_k
//
// dropping the off-diagonal terms and the second derivatives of the ops themselves (the
// Levenberg–Marquardt approximation of the paper). For an op linear in θ (Linear, Conv2d) under
// a loss whose curvature in y is diagonal, h is the exact second derivative d²L/dθ_j².
//
// Each op type follows one of four rules, from a table in src/nn/curvature.cpp:
//   products (Linear, Conv2d, ConvTranspose2d, MatMul, Mul, Div, Add, Sub, BroadcastAdd): the
//     backward pass run on squared inputs and weights gives Σ (coefficient)² · d2y (its sign
//     dropped);
//   elementwise maps (ReLU, Sigmoid, Tanh, ..., BatchNorm and Dropout in inference mode): the
//     backward pass applied twice gives f'(x)² · d2y;
//   routing (MaxPool2d, GlobalMaxPool, Flatten, Reshape, Transpose, Squeeze, Unsqueeze,
//     Concat): coefficients are 0 or 1, so the backward pass itself;
//   averaging (AvgPool2d, GlobalAvgPool): the backward pass times the coefficient 1/K (for
//     AvgPool2d K is the window's area: exact unless count_include_pad is false and the window
//     overlaps the padding).
// Softmax and LogSoftmax inside a model have no rule (their Jacobian is not diagonal).
#include "shrink/nn/model.hpp"

#include <map>
#include <string>
#include <vector>

namespace shrink {

// Whether the second-order pass can go through ops of this type.
bool has_curvature_rule(const std::string& op_type);

// One op's step of the second-order pass, in inference mode, after its forward pass with the
// same args: sets *d2x[i] (unless null) to the curvature with respect to input i, and adds the
// curvature of each parameter of a product op into *param_curvature[j] (unless null; sized like
// the parameter). Leaves the parameters and their grads untouched. Throws a bad-input Error for
// an op without a rule.
void curvature_backward(Op& op, const OpArgs& args, const Tensor& output, const Tensor& d2y,
                        const std::vector<Tensor*>& d2x,
                        const std::vector<Tensor*>& param_curvature);

// The whole model: after model.forward(input, /*training=*/false), carries `d2_output` (the
// curvature with respect to the model's output) back through the graph, summing the curvature of
// values with several consumers, and adds each weight's curvature into curvature[name] (created
// zero when absent) for the parameters of Linear, Conv2d, ConvTranspose2d and MatMul nodes.
// A node without a rule is a bad-input Error naming it.
void accumulate_curvature(Model& model, const Tensor& input, const Tensor& d2_output,
                          std::map<std::string, Tensor>& curvature);

// The diagonal of the Hessian of the batch-mean softmax cross-entropy with respect to the
// logits [N, K]: p(1 - p) / N per element, with p the softmax. (The full Hessian diag(p) - p pᵀ
// is already its own Gauss–Newton matrix; OBD keeps its diagonal.)
Tensor cross_entropy_curvature(const Tensor& logits);

struct CurvatureCheckResult {
  double max_error = 0.0;  // max |rule - numeric| / max(floor, |rule|, |numeric|)
  std::string worst;
};

// Checks an op's rule against finite differences: for a loss L = ½ Σ c_k y_k² with fixed random
// c_k > 0, the rule's input and weight curvature must equal Σ_k c_k (∂y_k/∂v)², with ∂y/∂v
// from central differences of the op's output (epsilon apart). Inference mode.
CurvatureCheckResult check_op_curvature(Op& op, std::vector<Tensor> inputs,
                                        std::vector<Parameter> params, double epsilon = 1e-2,
                                        uint64_t seed = 7);

}  // namespace shrink
