#pragma once
// Helpers of the op tests: run an op once, fill tensors and parameters, catch the message of an
// expected error.
#include "shrink/core/error.hpp"
#include "shrink/core/random.hpp"
#include "shrink/nn/gradient_check.hpp"
#include "shrink/nn/op.hpp"
#include "support/errors.hpp"

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

inline constexpr double kGradientTolerance = 1e-2;

}  // namespace shrink::testing
