// Int8Linear, Int8MatMul, Int8Conv2d (one group): a quantized layer of a lowered model on oneDNN's int8
// primitives (nn/kernels/int8_layers.hpp). The input is the codes of the QuantizeLinear the
// layer's DequantizeLinear read; the output is fp32, or the codes of the QuantizeLinear that
// followed the layer (and its ReLU), which the next int8 layer reads directly.
#include "nn/kernels/attributes.hpp"
#include "nn/kernels/pool_window.hpp"
#include "nn/ops/int8_ops.hpp"
#include "nn/ops/op_support.hpp"
#include "shrink/core/error.hpp"

#include <optional>

namespace shrink::ops {
namespace {

nlohmann::json codes_json(const kernels::ActivationCodes& codes) {
  return {{"scale", codes.scale},
          {"zero_point", codes.zero_point},
          {"type", codes.is_signed ? "int8" : "uint8"}};
}

class Int8Layer final : public Op {
 public:
  Int8Layer(std::unique_ptr<Op> layer, const kernels::Int8Epilogue& epilogue, std::unique_ptr<Op> pool)
      : layer_(std::move(layer)), pool_(std::move(pool)), epilogue_(epilogue) {
    if (layer_->type() != "Conv2d") {
      matmul_.emplace(epilogue, layer_->type() == "Linear");
      return;
    }
    const nlohmann::json a = layer_->attributes();
    const auto pair = [&](const char* key) { return kernels::read_pair(a, "Conv2d", key, std::nullopt, 0); };
    const kernels::Pair kernel = pair("kernel_size"), stride = pair("stride"), padding = pair("padding"),
                        dilation = pair("dilation");
    std::optional<kernels::PoolingGeometry> pooling;
    if (pool_) {
      const auto axes = kernels::read_pool_axes(pool_->attributes(), "MaxPool2d", true);
      pooling = kernels::PoolingGeometry{axes[0].kernel, axes[1].kernel,    axes[0].stride,
                                         axes[1].stride, axes[0].pad_begin, axes[1].pad_begin};
    }
    convolution_.emplace(epilogue, kernels::ConvolutionGeometry{kernel[0], kernel[1], stride[0], stride[1],
                                                                padding[0], padding[1], dilation[0],
                                                                dilation[1]},
                         pooling);
  }

  std::string type() const override { return "Int8" + layer_->type(); }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    const Shape out = pool_ ? pool_->output_shape({layer_->output_shape(inputs)}) : layer_->output_shape(inputs);
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
    if (matmul_) matmul_->forward(*args.params.at(0), bias, x, output);
    else convolution_->forward(*args.params.at(0), bias, x, output);
  }

  void backward(const OpArgs&, const Tensor&, const Tensor&, const std::vector<Tensor*>&) override {
    throw Error::internal(type() + " runs inference only; training runs the QDQ graph");
  }

  int64_t macs(const std::vector<Shape>& inputs) const override { return layer_->macs(inputs); }

  nlohmann::json attributes() const override {
    nlohmann::json a = layer_->attributes();
    a["input_codes"] = codes_json(epilogue_.input);
    a["quantizes_input"] = epilogue_.quantize_input;
    a["output_codes"] = epilogue_.output ? codes_json(*epilogue_.output) : nlohmann::json(nullptr);
    a["relu"] = epilogue_.relu;
    if (pool_) a["pool"] = pool_->attributes();
    a["kernel"] = matmul_ ? matmul_->implementation() : convolution_->implementation();
    return a;
  }

 private:
  std::unique_ptr<Op> layer_;
  std::unique_ptr<Op> pool_;  // a fused MaxPool2d, or null
  kernels::Int8Epilogue epilogue_;
  std::optional<kernels::Int8Matmul> matmul_;            // Linear, MatMul
  std::optional<kernels::Int8Convolution> convolution_;  // Conv2d
};

}  // namespace

std::unique_ptr<Op> make_int8_layer(std::unique_ptr<Op> layer, const kernels::Int8Epilogue& epilogue,
                                    std::unique_ptr<Op> pool) {
  const std::string type = layer->type();
  if (type != "Linear" && type != "MatMul" &&
      !(type == "Conv2d" && layer->attributes().value("groups", 1) == 1))
    throw Error::internal("no int8 op for " + type + " " + layer->attributes().dump());
  if (pool && (type != "Conv2d" || pool->type() != "MaxPool2d" || !epilogue.output))
    throw Error::internal("int8 op: only a requantizing Conv2d takes a MaxPool2d");
  return std::make_unique<Int8Layer>(std::move(layer), epilogue, std::move(pool));
}

}  // namespace shrink::ops
