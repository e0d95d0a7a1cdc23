#include "shrink/nn/gradient_check.hpp"

#include "shrink/core/error.hpp"

#include <algorithm>
#include <cmath>

namespace shrink {

GradientCheckResult check_gradient(const std::function<double()>& f, Tensor& x,
                                   const Tensor& analytic, const std::string& label,
                                   double epsilon) {
  if (analytic.numel() != x.numel())
    throw Error::internal("gradient of " + label + " has " + std::to_string(analytic.numel()) +
                          " elements, expected " + std::to_string(x.numel()));
  GradientCheckResult result;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const float saved = x[i];
    x[i] = static_cast<float>(saved + epsilon);
    const double plus = f();
    x[i] = static_cast<float>(saved - epsilon);
    const double minus = f();
    x[i] = saved;
    const double numeric = (plus - minus) / (2.0 * epsilon);
    const double a = analytic[i];
    const double error =
        std::abs(a - numeric) / std::max({1.0, std::abs(a), std::abs(numeric)});
    if (error > result.max_error) {
      result.max_error = error;
      result.worst = label + "[" + std::to_string(i) + "]: analytic " + std::to_string(a) +
                     ", numeric " + std::to_string(numeric);
    }
  }
  return result;
}

GradientCheckResult check_op_gradients(Op& op, std::vector<Tensor> inputs,
                                       std::vector<Parameter> params, bool training,
                                       double epsilon, uint64_t seed) {
  std::vector<Shape> shapes;
  for (const auto& t : inputs) shapes.push_back(t.shape());
  const Shape out_shape = op.output_shape(shapes);

  Rng probe_rng(seed);
  Tensor probe(out_shape);
  for (float& v : probe) v = probe_rng.uniform(-1.0f, 1.0f);

  // Stochastic ops must draw the same randomness on every evaluation.
  auto evaluate = [&]() -> double {
    Rng rng(seed + 1);
    OpArgs args;
    for (const auto& t : inputs) args.inputs.push_back(&t);
    for (auto& p : params) args.params.push_back(&p);
    args.training = training;
    args.rng = &rng;
    Tensor out(out_shape);
    op.forward(args, out);
    double sum = 0.0;
    for (int64_t i = 0; i < out.numel(); ++i) sum += static_cast<double>(out[i]) * probe[i];
    return sum;
  };

  // Analytic gradients.
  Rng rng(seed + 1);
  OpArgs args;
  for (const auto& t : inputs) args.inputs.push_back(&t);
  for (auto& p : params) {
    p.grad = Tensor(p.value.shape());
    args.params.push_back(&p);
  }
  args.training = training;
  args.rng = &rng;
  Tensor out(out_shape);
  op.forward(args, out);
  std::vector<Tensor> grad_inputs(inputs.size());
  std::vector<Tensor*> grad_pointers;
  for (auto& g : grad_inputs) grad_pointers.push_back(&g);
  op.backward(args, out, probe, grad_pointers);

  GradientCheckResult worst;
  auto keep_worst = [&](const GradientCheckResult& r) {
    if (r.max_error >= worst.max_error) worst = r;
  };
  for (size_t i = 0; i < inputs.size(); ++i)
    keep_worst(check_gradient(evaluate, inputs[i], grad_inputs[i],
                              op.type() + " input " + std::to_string(i), epsilon));
  for (auto& p : params) {
    if (!p.trainable) continue;
    const Tensor analytic = p.grad;
    keep_worst(check_gradient(evaluate, p.value, analytic, op.type() + " " + p.name, epsilon));
  }
  return worst;
}

}  // namespace shrink
