// Int8Linear, Int8MatMul, Int8Conv2d: a quantized layer of a lowered model on oneDNN's int8
// primitives (nn/kernels/int8_layers.hpp). The input is the codes of the QuantizeLinear the
// layer's DequantizeLinear read; the output is fp32, or the codes of the QuantizeLinear that
// followed the layer (and its ReLU), which the next int8 layer reads directly.
#include "nn/ops/int8_ops.hpp"
#include "nn/ops/op_support.hpp"
#include "shrink/core/error.hpp"

namespace shrink::ops {
namespace {

nlohmann::json codes_json(const kernels::ActivationCodes& codes) {
  return {{"scale", codes.scale},
          {"zero_point", codes.zero_point},
          {"type", codes.is_signed ? "int8" : "uint8"}};
}

class Int8Layer final : public Op {
 public:
  Int8Layer(std::unique_ptr<Op> layer, const kernels::Int8Epilogue& epilogue)
      : layer_(std::move(layer)), epilogue_(epilogue), matmul_(epilogue, layer_->type() == "Linear") {}

  std::string type() const override { return "Int8" + layer_->type(); }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    const Shape out = layer_->output_shape(inputs);
    if (layer_->type() == "MatMul")
      require(inputs[0].size() == 2, "Int8MatMul takes a 2-D input [N, K], got " + to_string(inputs[0]));
    return out;
  }

  std::vector<ParameterSpec> parameter_specs(const std::vector<Shape>& inputs) const override {
    return layer_->parameter_specs(inputs);
  }

  void forward(const OpArgs& args, Tensor& output) override {
    if (args.training)
      throw Error::internal(type() + " runs inference only; training runs the QDQ graph");
    const Tensor& x = single_input(type(), args);
    const Parameter* bias = args.params.size() > 1 ? args.params[1] : nullptr;
    matmul_.forward(*args.params.at(0), bias, x, output);
  }

  void backward(const OpArgs&, const Tensor&, const Tensor&, const std::vector<Tensor*>&) override {
    throw Error::internal(type() + " runs inference only; training runs the QDQ graph");
  }

  int64_t macs(const std::vector<Shape>& inputs) const override { return layer_->macs(inputs); }

  nlohmann::json attributes() const override {
    nlohmann::json a = layer_->attributes();
    a["input_codes"] = codes_json(epilogue_.input);
    a["output_codes"] = epilogue_.output ? codes_json(*epilogue_.output) : nlohmann::json(nullptr);
    a["relu"] = epilogue_.relu;
    a["kernel"] = matmul_.implementation();
    return a;
  }

 private:
  std::unique_ptr<Op> layer_;
  kernels::Int8Epilogue epilogue_;
  kernels::Int8Matmul matmul_;
};

}  // namespace

std::unique_ptr<Op> make_int8_layer(std::unique_ptr<Op> layer, const kernels::Int8Epilogue& epilogue) {
  const std::string type = layer->type();
  if (type != "Linear" && type != "MatMul")
    throw Error::internal("no int8 op for " + type);
  return std::make_unique<Int8Layer>(std::move(layer), epilogue);
}

}  // namespace shrink::ops
