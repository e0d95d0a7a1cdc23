#pragma once
// An Op holds attributes and math only. Each graph node owns its own Op instance, so an op may
// keep what its forward pass computed (argmax indices, batch statistics, dropout masks) in
// members for its backward pass.
#include "shrink/core/random.hpp"
#include "shrink/core/tensor.hpp"
#include "shrink/nn/parameter.hpp"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace shrink {

// How a parameter starts when a model is built from scratch.
enum class Init { Zeros, Ones, KaimingUniform, BiasUniform };

struct ParameterSpec {
  std::string suffix;      // "weight" -> parameter "<node>.weight"
  Shape shape;
  Init init = Init::Zeros;
  int64_t fan_in = 1;      // for the Kaiming/bias bounds (PyTorch's defaults)
  bool trainable = true;
};

struct OpArgs {
  std::vector<const Tensor*> inputs;  // batch-first activations
  std::vector<Parameter*> params;     // in parameter_specs() order
  bool training = false;
  Rng* rng = nullptr;                 // for stochastic ops (Dropout)
  // Backward sets each trainable parameter's grad rather than adding to it. Only set for ops
  // whose overwrites_grads() is true; the model zeroes the grads of the others first.
  bool overwrite_grads = false;
};

class Op {
 public:
  virtual ~Op() = default;

  virtual std::string type() const = 0;  // PyTorch's name: "Conv2d"
  // Number of inputs the op takes; -1 for any number >= 1.
  virtual int arity() const { return 1; }
  // Validates input shapes (batch dimension included) and returns the output shape.
  // Throws a bad-input Error naming the op and the offending shape.
  virtual Shape output_shape(const std::vector<Shape>& inputs) const = 0;
  // Parameters this op needs for the given (batch-first) input shapes.
  virtual std::vector<ParameterSpec> parameter_specs(const std::vector<Shape>& inputs) const {
    (void)inputs;
    return {};
  }
  // Computes output (already resized to output_shape by the caller).
  virtual void forward(const OpArgs& args, Tensor& output) = 0;
  // Overwrites grad_inputs[i] (resized by the op) unless it is null, and adds the parameter
  // gradients into params[j]->grad (sets them, if args.overwrite_grads). Called after forward
  // with the same args.
  virtual void backward(const OpArgs& args, const Tensor& output, const Tensor& grad_output,
                        const std::vector<Tensor*>& grad_inputs) = 0;
  // Whether backward honours OpArgs::overwrite_grads.
  virtual bool overwrites_grads() const { return false; }
  // Multiply-accumulates for one forward pass over the given input shapes.
  virtual int64_t macs(const std::vector<Shape>& inputs) const {
    (void)inputs;
    return 0;
  }
  // Attributes that rebuild this op through make_op(type(), attributes()).
  virtual nlohmann::json attributes() const { return nlohmann::json::object(); }
};

// The op registry: builds an op from its type name and attributes; the error lists known types.
std::unique_ptr<Op> make_op(const std::string& type, const nlohmann::json& attributes);
std::vector<std::string> op_types();

}  // namespace shrink
