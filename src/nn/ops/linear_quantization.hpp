#pragma once
// The attributes shared by QuantizeLinear and DequantizeLinear (ONNX semantics, per tensor):
//   "scale"      the step between two codes, a positive finite number;
//   "zero_point" the code of 0.0, an integer inside the type's range (default 0);
//   "type"       "uint8" (codes 0..255, the default, as in ONNX) or "int8" (codes -128..127).
//   "learned_step"  true for quantization-aware training with a learned step (LSQ, Esser et
//                al. 2020): the scale is then the trainable parameter "<quantize node>.step",
//                which the QuantizeLinear owns and the DequantizeLinear reading it shares; each
//                forward pass copies it into "scale" (at least kMinStep), the attribute a file
//                stores; the int8 lowering and the ONNX export read the parameter itself
//                (inference_attributes), so they take the last step even before a forward pass.
//   quantize:   q = saturate(round_half_even(x / scale) + zero_point)
//   dequantize: x = (q - zero_point) * scale
// Codes travel between the two ops as floats holding whole numbers, so the pair computes fake
// quantization in fp32 and an int8 lowering can later replace it by real integers.
#include "nn/ops/op_support.hpp"
#include "shrink/nn/model.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace shrink::ops {

// The smallest step a learned scale takes: training may push the parameter lower (or below
// zero), the ops clamp it here so the scale stays a positive normal float.
constexpr float kMinStep = 1e-8f;

struct LinearQuantization {
  float scale = 1.0f;
  int32_t zero_point = 0;
  bool is_signed = false;  // int8 rather than uint8
  bool learned_step = false;

  int32_t lowest() const { return is_signed ? -128 : 0; }
  int32_t highest() const { return is_signed ? 127 : 255; }

  // The code of x, ONNX's QuantizeLinear: x / scale rounded half to even (std::nearbyint in the
  // default rounding mode), plus the zero point, saturated to the type's range. (The ops compute
  // the same over blocks with Eigen's rint; this is the one-value reference.)
  float quantize(float x) const {
    const float q = std::nearbyint(x / scale) + static_cast<float>(zero_point);
    return std::min(std::max(q, static_cast<float>(lowest())), static_cast<float>(highest()));
  }
  float dequantize(float code) const { return (code - static_cast<float>(zero_point)) * scale; }
  static LinearQuantization read(const nlohmann::json& attributes, const std::string& op) {
    reject_unknown_attributes(op, attributes, {"scale", "zero_point", "type", "learned_step"});
    LinearQuantization p;
    require(attributes.contains("scale"), op + ": attribute 'scale' is required");
    const nlohmann::json& scale = attributes.at("scale");
    require(scale.is_number(), op + ": attribute 'scale' must be a number, got " + scale.dump());
    p.scale = scale.get<float>();
    require(std::isfinite(p.scale) && p.scale > 0.0f && std::isnormal(p.scale),
            op + ": attribute 'scale' must be a positive finite (normal) float, got " + scale.dump());
    const std::string type = attributes.value("type", std::string("uint8"));
    require(type == "uint8" || type == "int8",
            op + ": attribute 'type' must be \"uint8\" or \"int8\", got \"" + type + "\"");
    p.is_signed = type == "int8";
    if (attributes.contains("zero_point")) {
      const nlohmann::json& zero = attributes.at("zero_point");
      require(zero.is_number_integer(),
              op + ": attribute 'zero_point' must be an integer, got " + zero.dump());
      const int64_t z = zero.get<int64_t>();
      require(z >= p.lowest() && z <= p.highest(),
              op + ": attribute 'zero_point' " + std::to_string(z) + " is outside the " + type +
                  " range " + std::to_string(p.lowest()) + ".." + std::to_string(p.highest()));
      p.zero_point = static_cast<int32_t>(z);
    }
    if (attributes.contains("learned_step")) {
      const nlohmann::json& learned = attributes.at("learned_step");
      require(learned.is_boolean(),
              op + ": attribute 'learned_step' must be true or false, got " + learned.dump());
      p.learned_step = learned.get<bool>();
    }
    return p;
  }

  nlohmann::json attributes() const {
    nlohmann::json a = {{"scale", scale}, {"zero_point", zero_point}, {"type", is_signed ? "int8" : "uint8"}};
    if (learned_step) a["learned_step"] = true;
    return a;
  }
};

// A QuantizeLinear or DequantizeLinear node's attributes as inference runs it: a learned step
// becomes the fixed "scale" — the step parameter it reads, which a forward pass would copy
// there — so lowering or exporting right after an optimizer step, before any forward pass,
// still takes the step trained last.
inline nlohmann::json inference_attributes(const Model& model, const Node& node) {
  nlohmann::json a = node.op->attributes();
  if (a.value("learned_step", false) && !node.parameters.empty()) {
    const float step = model.parameter(node.parameters[0]).value[0];
    if (std::isfinite(step)) a["scale"] = std::max(step, kMinStep);
    a.erase("learned_step");
  }
  return a;
}

// What QuantizeLinear and DequantizeLinear share: one input, an output of its shape, and their
// attributes. Each says its map (forward) and its derivative (backward) over blocks of elements.
class LinearQuantizationOp : public Op {
 public:
  explicit LinearQuantizationOp(const LinearQuantization& q) : q_(q) {}

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    return same_shape_output(type(), inputs);
  }

  // A learned step: one scalar, owned by the QuantizeLinear, shared by its DequantizeLinear.
  std::vector<ParameterSpec> parameter_specs(const std::vector<Shape>&) const override {
    if (!q_.learned_step) return {};
    return {{step_parameter(), Shape{1}, Init::Ones, 1, true}};
  }

  void forward(const OpArgs& args, Tensor& output) override {
    if (q_.learned_step) {
      require(!args.params.empty(), type() + ": a learned step needs its parameter");
      const float step = args.params[0]->value[0];
      require(std::isfinite(step), type() + ": the learned step is " + std::to_string(step));
      q_.scale = std::max(step, kMinStep);
    }
    const Tensor& x = single_input(type(), args);
    require_same_numel(type(), output, "output", x, "input");
    for_each_block(x.numel(), [&](int64_t begin, int64_t count) {
      map_block(array_block(x.data(), begin, count), array_block(output.data(), begin, count));
    });
  }

  void backward(const OpArgs& args, const Tensor& output, const Tensor& grad_output,
                const std::vector<Tensor*>& grad_inputs) override {
    (void)output;
    const Tensor& x = single_input(type(), args);
    if (grad_inputs.empty() || grad_inputs[0] == nullptr) return;
    require_same_numel(type(), grad_output, "output gradient", x, "input");
    Tensor& gx = *grad_inputs[0];
    gx.resize(x.shape());
    for_each_block(x.numel(), [&](int64_t begin, int64_t count) {
      gradient_block(array_block(x.data(), begin, count),
                     array_block(grad_output.data(), begin, count),
                     array_block(gx.data(), begin, count));
    });
  }

  nlohmann::json attributes() const override { return q_.attributes(); }

 protected:
  // The suffix of the learned step's parameter: "step", or "input:step" to share the one of
  // the node read (nn/model.cpp).
  virtual std::string step_parameter() const = 0;

  using ConstBlock = Eigen::Map<const Eigen::ArrayXf>;
  using Block = Eigen::Map<Eigen::ArrayXf>;
  // y = f(x) over one block.
  virtual void map_block(ConstBlock x, Block y) const = 0;
  // dx = dy * f'(x) over one block.
  virtual void gradient_block(ConstBlock x, ConstBlock dy, Block dx) const = 0;

  LinearQuantization q_;
};

}  // namespace shrink::ops
