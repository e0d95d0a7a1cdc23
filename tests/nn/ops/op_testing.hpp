#pragma once
// Helpers of the op tests: run an op once, fill tensors and parameters, catch the message of an
// expected error.
#include "shrink/core/error.hpp"
#include "shrink/core/random.hpp"
#include "shrink/nn/gradient_check.hpp"
#include "shrink/nn/op.hpp"
#include "support/errors.hpp"
#include "support/scaled_gradients.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace shrink::testing {

inline Tensor random_tensor(const Shape& shape, uint64_t seed, float low = -1.0f,
                            float high = 1.0f) {
  Rng rng(seed);
  Tensor t(shape);
  for (float& v : t) v = rng.uniform(low, high);
  return t;
}

inline Parameter make_parameter(const std::string& name, Tensor value, bool trainable) {
  Parameter p;
  p.name = name;
  p.grad = Tensor(value.shape());
  p.value = std::move(value);
  p.trainable = trainable;
  return p;
}

// One forward pass; the output is sized by the op's own output_shape.
inline Tensor run_op(Op& op, const std::vector<Tensor>& inputs,
                     std::vector<Parameter*> params = {}) {
  std::vector<Shape> shapes;
  OpArgs args;
  for (const Tensor& t : inputs) {
    shapes.push_back(t.shape());
    args.inputs.push_back(&t);
  }
  args.params = std::move(params);
  Tensor out(op.output_shape(shapes));
  op.forward(args, out);
  return out;
}

// One parameter per spec of `op` for `input`, filled from consecutive seeds, gradients zeroed.
inline std::vector<Parameter> make_parameters(const Op& op, const Shape& input, uint64_t seed) {
  std::vector<Parameter> params;
  for (const ParameterSpec& spec : op.parameter_specs({input}))
    params.push_back(make_parameter(spec.suffix, random_tensor(spec.shape, seed++), true));
  return params;
}

// One forward pass of a one-input op, with `params` in spec order.
inline Tensor run_forward(Op& op, const Tensor& x, std::vector<Parameter>& params) {
  std::vector<Parameter*> pointers;
  for (Parameter& p : params) pointers.push_back(&p);
  return run_op(op, {x}, pointers);
}
inline Tensor run_forward(Op& op, const Tensor& x) { return run_op(op, {x}); }

inline void expect_values(const Tensor& t, const Shape& shape, const std::vector<float>& expected,
                          float tolerance = 1e-5f) {
  ASSERT_EQ(t.shape(), shape);
  ASSERT_EQ(t.numel(), static_cast<int64_t>(expected.size()));
  for (int64_t i = 0; i < t.numel(); ++i)
    EXPECT_NEAR(t[i], expected[static_cast<size_t>(i)], tolerance) << "element " << i;
}

inline void expect_round_trip(const std::string& type, const nlohmann::json& attributes) {
  const auto op = make_op(type, attributes);
  EXPECT_EQ(op->type(), type);
  const auto again = make_op(type, op->attributes());
  EXPECT_EQ(again->attributes(), op->attributes()) << type << " " << attributes.dump();
}

// Checks op's backward against finite differences (check_op_gradients): the relative error must
// stay below `tolerance`. Then shows the tolerance can see a wrong factor: the same check must
// fail once any one input's or trainable parameter's gradient is 5% too small, the factor of a
// mean over 19 elements instead of 20. `what` names the case in failure messages.
inline void expect_gradients_match(Op& op, const std::vector<Tensor>& inputs,
                                   const std::vector<Parameter>& params, double tolerance,
                                   const std::string& what = "", bool training = true,
                                   double epsilon = 1e-2) {
  const GradientCheckResult result =
      check_op_gradients(op, inputs, params, training, epsilon);
  EXPECT_LT(result.max_error, tolerance) << what << ": " << result.worst;
  using Target = ScaledGradients::Target;
  std::vector<std::pair<Target, size_t>> targets;
  for (size_t i = 0; i < inputs.size(); ++i) targets.emplace_back(Target::Input, i);
  for (size_t j = 0; j < params.size(); ++j)
    if (params[j].trainable) targets.emplace_back(Target::Parameter, j);
  for (const auto& [target, index] : targets) {
    ScaledGradients wrong(op, 0.95f, target, index);
    const GradientCheckResult caught = check_op_gradients(wrong, inputs, params, training, epsilon);
    EXPECT_GT(caught.max_error, tolerance)
        << what << ": the gradient of " << (target == Target::Input ? "input " : "parameter ")
        << index << " scaled by 0.95 passed the check: " << caught.worst;
  }
}

}  // namespace shrink::testing
