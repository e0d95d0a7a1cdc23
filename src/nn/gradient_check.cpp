#include "shrink/nn/gradient_check.hpp"

#include "shrink/core/error.hpp"
#include "shrink/core/random.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace shrink {
namespace {

// f = sum(output * probe), the scalar whose gradient the checks compare; `scale` receives
// sum |output * probe|, the size of f's float rounding noise.
double probe_dot(const Tensor& output, const Tensor& probe, double& scale) {
  double sum = 0.0;
  scale = 0.0;
  for (int64_t i = 0; i < output.numel(); ++i) {
    sum += static_cast<double>(output[i]) * probe[i];
    scale += std::abs(static_cast<double>(output[i]) * probe[i]);
  }
  return sum;
}

}  // namespace

GradientCheckResult check_gradient(const std::function<double()>& f, Tensor& x,
                                   const Tensor& analytic, const std::string& label,
                                   double epsilon, double f_scale) {
  if (analytic.numel() != x.numel())
    throw Error::internal("gradient of " + label + " has " + std::to_string(analytic.numel()) +
                          " elements, expected " + std::to_string(x.numel()));
  if (f_scale <= 0.0) f_scale = std::max(1.0, std::abs(f()));
  const double floor =
      kNoiseUlps * std::numeric_limits<float>::epsilon() * f_scale / (2.0 * epsilon);
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
    const double error = std::abs(a - numeric) / std::max({floor, std::abs(a), std::abs(numeric)});
    if (error > result.max_error) {
      result.max_error = error;
      result.worst = label + "[" + std::to_string(i) + "]: analytic " + message_number(a) +
                     ", numeric " + message_number(numeric) + " (floor " +
                     message_number(floor) + ")";
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
  double scale = 0.0;  // sum |output * probe| at the last evaluation: the size of f's rounding
  auto evaluate = [&]() -> double {
    Rng rng(seed + 1);
    OpArgs args;
    for (const auto& t : inputs) args.inputs.push_back(&t);
    for (auto& p : params) args.params.push_back(&p);
    args.training = training;
    args.rng = &rng;
    Tensor out(out_shape);
    op.forward(args, out);
    return probe_dot(out, probe, scale);
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
  evaluate();
  const double f_scale = std::max(scale, 1e-30);
  for (size_t i = 0; i < inputs.size(); ++i)
    keep_worst(check_gradient(evaluate, inputs[i], grad_inputs[i],
                              op.type() + " input " + std::to_string(i), epsilon, f_scale));
  for (auto& p : params) {
    if (!p.trainable) continue;
    const Tensor analytic = p.grad;
    keep_worst(check_gradient(evaluate, p.value, analytic, op.type() + " " + p.name, epsilon,
                              f_scale));
  }
  return worst;
}

GradientCheckResult check_model_gradients(Model& model, const Tensor& input,
                                          const ModelGradientCheckOptions& options) {
  std::vector<Tensor> values;  // restored at the end (BatchNorm's running statistics move)
  for (const Parameter* p : model.parameters()) values.push_back(p->value);
  Rng rng(options.seed);
  const Shape out_shape = model.forward(input, true).shape();
  Tensor probe(out_shape);
  for (float& v : probe) v = rng.uniform(-1.0f, 1.0f);
  // Dropout must draw the same masks on every evaluation.
  const uint64_t stream = rng.next_u64();
  double scale = 0.0;  // sum |output * probe|, the size of f's float noise
  auto evaluate = [&]() -> double {
    model.set_seed(stream);
    return probe_dot(model.forward(input, true), probe, scale);
  };
  evaluate();
  model.backward(probe, /*accumulate=*/false);
  // Along the gradient, the step is no longer than it takes to change f by kSignalToNoise times
  // its float noise: every crossed kink of a ReLU or max pool adds an error that grows with the
  // square of the step, while the change measured grows only with the step.
  constexpr double kSignalToNoise = 1e4;
  const double wanted_change =
      kSignalToNoise * kNoiseUlps * std::numeric_limits<float>::epsilon() * scale;

  GradientCheckResult worst;
  for (Parameter* p : model.parameters()) {
    if (!p->trainable) continue;
    const Tensor analytic = p->grad;
    const Tensor saved = p->value;
    const int64_t n = saved.numel();
    double gradient_norm = 0.0;
    for (const float g : analytic) gradient_norm += static_cast<double>(g) * g;
    for (int direction = 0; direction <= options.random_directions; ++direction) {
      // Direction 0 follows the gradient; the others are uniform on [-1, 1). Each is scaled to
      // RMS 1. A zero gradient has no direction of its own: a random one takes its place, so a
      // gradient that backward dropped shows as a change of f that nothing predicted.
      const bool along_gradient = direction == 0 && gradient_norm > 0.0;
      std::vector<double> d(static_cast<size_t>(n));
      double norm = 0.0;
      for (int64_t i = 0; i < n; ++i) {
        d[static_cast<size_t>(i)] = along_gradient ? analytic[i] : rng.uniform(-1.0f, 1.0f);
        norm += d[static_cast<size_t>(i)] * d[static_cast<size_t>(i)];
      }
      if (norm == 0.0) continue;
      const double unit = std::sqrt(static_cast<double>(n) / norm);
      // Along the gradient f changes by 2 * epsilon * sqrt(n * norm).
      const double epsilon =
          along_gradient
              ? std::min(options.epsilon, wanted_change / (2.0 * std::sqrt(n * norm)))
              : options.epsilon;
      Tensor plus(saved.shape()), minus(saved.shape());
      double predicted = 0.0;
      for (int64_t i = 0; i < n; ++i) {
        const double step = epsilon * unit * d[static_cast<size_t>(i)];
        plus[i] = static_cast<float>(saved[i] + step);
        minus[i] = static_cast<float>(saved[i] - step);
        predicted += static_cast<double>(analytic[i]) * (static_cast<double>(plus[i]) - minus[i]);
      }
      p->value = plus;
      p->mark_changed();
      const double f_plus = evaluate();
      const double noise_plus = scale;
      p->value = minus;
      p->mark_changed();
      const double measured = f_plus - evaluate();
      p->value = saved;
      p->mark_changed();
      const double floor =
          kNoiseUlps * std::numeric_limits<float>::epsilon() * std::max(noise_plus, scale);
      const double error = std::abs(predicted - measured) /
                           std::max({std::abs(predicted), std::abs(measured), floor});
      if (error >= worst.max_error) {
        worst.max_error = error;
        worst.worst = p->name + (along_gradient ? " along its gradient"
                                                : " along random direction " +
                                                      std::to_string(direction)) +
                      ": change of f predicted " + message_number(predicted) + ", measured " +
                      message_number(measured);
      }
    }
  }
  // Leaves the model's values and gradients as the first backward pass left them.
  size_t index = 0;
  for (Parameter* p : model.parameters()) {
    p->value = values[index++];
    p->mark_changed();
  }
  evaluate();
  model.backward(probe, /*accumulate=*/false);
  return worst;
}

}  // namespace shrink
