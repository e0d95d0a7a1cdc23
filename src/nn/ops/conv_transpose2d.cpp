// ConvTranspose2d on NCHW input with weights [in, out/groups, kh, kw] (the ONNX/PyTorch layout):
// the adjoint of Conv2d. Per sample and group, columns = W_g^T x_g and col2im scatters them into
// the output; the backward pass is the matching convolution (im2col of dy, then W_g cols).
//   out = (in - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
// output_padding must be smaller than the stride (it only adds rows the stride left out).
#include "nn/kernels/attributes.hpp"
#include "nn/kernels/gemm.hpp"
#include "nn/kernels/im2col.hpp"
#include "nn/kernels/parallel.hpp"
#include "nn/ops/ops.hpp"
#include "shrink/core/error.hpp"

#include <algorithm>

namespace shrink::ops {
namespace {

using kernels::Pair;
using Buffer = std::vector<float, Eigen::aligned_allocator<float>>;

class ConvTranspose2d final : public Op {
 public:
  ConvTranspose2d(int64_t out_channels, Pair kernel, Pair stride, Pair padding,
                  Pair output_padding, Pair dilation, int64_t groups, bool bias)
      : out_channels_(out_channels), kernel_(kernel), stride_(stride), padding_(padding),
        output_padding_(output_padding), dilation_(dilation), groups_(groups), bias_(bias) {}

  std::string type() const override { return "ConvTranspose2d"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    require(inputs.size() == 1,
            "ConvTranspose2d takes 1 input, got " + std::to_string(inputs.size()));
    const Shape& x = inputs[0];
    require(x.size() == 4,
            "ConvTranspose2d expects an NCHW input of rank 4, got shape " + to_string(x));
    require(x[1] > 0 && x[1] % groups_ == 0,
            "ConvTranspose2d: input channels (" + std::to_string(x[1]) + " in shape " +
                to_string(x) + ") must be a positive multiple of groups = " +
                std::to_string(groups_));
    const int64_t h = out_size(x[2], 0), w = out_size(x[3], 1);
    require(h > 0 && w > 0, "ConvTranspose2d: input of shape " + to_string(x) + " with padding " +
                                to_string({padding_[0], padding_[1]}) +
                                " gives an empty output " + to_string({h, w}));
    return {x[0], out_channels_, h, w};
  }

  std::vector<ParameterSpec> parameter_specs(const std::vector<Shape>& inputs) const override {
    output_shape(inputs);
    // PyTorch computes fan_in from the weight's dim 1: out/groups * kh * kw.
    const int64_t fan_in = out_channels_ / groups_ * kernel_[0] * kernel_[1];
    std::vector<ParameterSpec> specs;
    specs.push_back({"weight", {inputs[0][1], out_channels_ / groups_, kernel_[0], kernel_[1]},
                     Init::KaimingUniform, fan_in, true});
    if (bias_) specs.push_back({"bias", {out_channels_}, Init::BiasUniform, fan_in, true});
    return specs;
  }

  void forward(const OpArgs& args, Tensor& output) override {
    const Tensor& x = input(args);
    const Sizes z = sizes(x.shape());
    check_parameters(args, z);
    if (output.numel() != z.n * out_channels_ * z.out_pixels)
      throw Error::internal("ConvTranspose2d: output of shape " + to_string(output.shape()) +
                            " does not match the input " + to_string(x.shape()));
    const float* w = args.params[0]->effective().data();
    const float* b = bias_ ? args.params[1]->value.data() : nullptr;
#pragma omp parallel if (z.n * z.macs_per_sample >= kernels::kParallelMacs)
    {
      Buffer columns(static_cast<size_t>(z.k * z.in_pixels));
#pragma omp for schedule(static)
      for (int64_t s = 0; s < z.n; ++s) {
        const float* image = x.data() + s * z.in_channels * z.in_pixels;
        float* y = output.data() + s * out_channels_ * z.out_pixels;
        for (int64_t grp = 0; grp < groups_; ++grp) {
          // columns[og*kh*kw, H*W] = W_g[ig, og*kh*kw]^T x_g[ig, H*W]
          kernels::gemm(true, false, z.k, z.in_pixels, z.ig, w + grp * z.ig * z.k, z.k,
                        image + grp * z.ig * z.in_pixels, z.in_pixels, false, columns.data(),
                        z.in_pixels);
          kernels::col2im(z.g, columns.data(), y + grp * z.og * z.out_pixels);
        }
        if (b)
          for (int64_t o = 0; o < out_channels_; ++o)
            for (int64_t p = 0; p < z.out_pixels; ++p) y[o * z.out_pixels + p] += b[o];
      }
    }
  }

  void backward(const OpArgs& args, const Tensor& output, const Tensor& grad_output,
                const std::vector<Tensor*>& grad_inputs) override {
    (void)output;
    const Tensor& x = input(args);
    const Sizes z = sizes(x.shape());
    check_parameters(args, z);
    if (grad_output.numel() != z.n * out_channels_ * z.out_pixels)
      throw Error::internal("ConvTranspose2d: output gradient of shape " +
                            to_string(grad_output.shape()) + " does not match the input " +
                            to_string(x.shape()));
    Parameter& weight = *args.params[0];
    Parameter* bias = bias_ ? args.params[1] : nullptr;
    const bool weight_grad = weight.trainable;
    const bool bias_grad = bias != nullptr && bias->trainable;
    if (weight_grad && weight.grad.shape() != weight.value.shape())
      weight.grad = Tensor(weight.value.shape());
    if (bias_grad && bias->grad.shape() != bias->value.shape())
      bias->grad = Tensor(bias->value.shape());
    Tensor* grad_x = grad_inputs.empty() ? nullptr : grad_inputs[0];
    if (grad_x) grad_x->resize(x.shape());
    if (!grad_x && !weight_grad && !bias_grad) return;

    // Serial over samples: the weight gradient sums over them in a fixed order.
    const float* w = weight.effective().data();
    Buffer columns(static_cast<size_t>(z.k * z.in_pixels));
    for (int64_t s = 0; s < z.n; ++s) {
      const float* image = x.data() + s * z.in_channels * z.in_pixels;
      const float* dy = grad_output.data() + s * out_channels_ * z.out_pixels;
      for (int64_t grp = 0; grp < groups_; ++grp) {
        kernels::im2col(z.g, dy + grp * z.og * z.out_pixels, columns.data());
        // dx_g[ig, H*W] = W_g[ig, k] cols[k, H*W]
        if (grad_x)
          kernels::gemm(false, false, z.ig, z.in_pixels, z.k, w + grp * z.ig * z.k, z.k,
                        columns.data(), z.in_pixels, false,
                        grad_x->data() + s * z.in_channels * z.in_pixels +
                            grp * z.ig * z.in_pixels,
                        z.in_pixels);
        // dW_g[ig, k] += x_g[ig, H*W] cols[k, H*W]^T
        if (weight_grad)
          kernels::gemm(false, true, z.ig, z.k, z.in_pixels, image + grp * z.ig * z.in_pixels,
                        z.in_pixels, columns.data(), z.in_pixels, true,
                        weight.grad.data() + grp * z.ig * z.k, z.k);
      }
      if (bias_grad)
        for (int64_t o = 0; o < out_channels_; ++o) {
          double sum = 0.0;
          for (int64_t p = 0; p < z.out_pixels; ++p) sum += dy[o * z.out_pixels + p];
          bias->grad[o] += static_cast<float>(sum);
        }
    }
  }

  int64_t macs(const std::vector<Shape>& inputs) const override {
    const Sizes z = sizes(inputs.at(0));
    return z.n * z.macs_per_sample;
  }

  nlohmann::json attributes() const override {
    return {{"out_channels", out_channels_},
            {"kernel_size", kernels::pair_json(kernel_)},
            {"stride", kernels::pair_json(stride_)},
            {"padding", kernels::pair_json(padding_)},
            {"output_padding", kernels::pair_json(output_padding_)},
            {"dilation", kernels::pair_json(dilation_)},
            {"groups", groups_},
            {"bias", bias_}};
  }

 private:
  struct Sizes {
    int64_t n = 0, in_channels = 0, in_pixels = 0, out_pixels = 0;
    int64_t ig = 0, og = 0, k = 0;  // per group: input channels, output channels, og*kh*kw
    int64_t macs_per_sample = 0;
    kernels::Conv2dGeometry g;      // the convolution this op is the adjoint of, per group
  };

  int64_t out_size(int64_t in, size_t axis) const {
    return (in - 1) * stride_[axis] - 2 * padding_[axis] + dilation_[axis] * (kernel_[axis] - 1) +
           output_padding_[axis] + 1;
  }

  Sizes sizes(const Shape& x) const {
    const Shape y = output_shape({x});
    Sizes z;
    z.n = x[0];
    z.in_channels = x[1];
    z.in_pixels = x[2] * x[3];
    z.out_pixels = y[2] * y[3];
    z.ig = x[1] / groups_;
    z.og = out_channels_ / groups_;
    z.k = z.og * kernel_[0] * kernel_[1];
    z.macs_per_sample = x[1] * z.in_pixels * z.k;
    z.g.channels = z.og;
    z.g.height = y[2];
    z.g.width = y[3];
    z.g.kernel_h = kernel_[0];
    z.g.kernel_w = kernel_[1];
    z.g.stride_h = stride_[0];
    z.g.stride_w = stride_[1];
    z.g.pad_h = padding_[0];
    z.g.pad_w = padding_[1];
    z.g.dilation_h = dilation_[0];
    z.g.dilation_w = dilation_[1];
    if (z.g.out_h() != x[2] || z.g.out_w() != x[3])
      throw Error::internal("ConvTranspose2d: the adjoint convolution of " + to_string(x) +
                            " does not map back to its size");
    return z;
  }

  static const Tensor& input(const OpArgs& args) {
    if (args.inputs.size() != 1 || args.inputs[0] == nullptr)
      throw Error::internal("ConvTranspose2d was run with " + std::to_string(args.inputs.size()) +
                            " inputs, expected 1");
    return *args.inputs[0];
  }

  void check_parameters(const OpArgs& args, const Sizes& z) const {
    const size_t expected = bias_ ? 2 : 1;
    if (args.params.size() != expected)
      throw Error::internal("ConvTranspose2d was run with " + std::to_string(args.params.size()) +
                            " parameters, expected " + std::to_string(expected));
    const Shape weight_shape{z.in_channels, z.og, kernel_[0], kernel_[1]};
    require(args.params[0]->value.shape() == weight_shape,
            "ConvTranspose2d: weight " + args.params[0]->name + " has shape " +
                to_string(args.params[0]->value.shape()) + ", expected " + to_string(weight_shape));
    if (bias_)
      require(args.params[1]->value.shape() == Shape{out_channels_},
              "ConvTranspose2d: bias " + args.params[1]->name + " has shape " +
                  to_string(args.params[1]->value.shape()) + ", expected [" +
                  std::to_string(out_channels_) + "]");
  }

  int64_t out_channels_;
  Pair kernel_, stride_, padding_, output_padding_, dilation_;
  int64_t groups_;
  bool bias_;
};

}  // namespace

std::unique_ptr<Op> make_conv_transpose2d(const Json& attributes) {
  const std::string op = "ConvTranspose2d";
  kernels::check_attribute_keys(attributes, op,
                                {"out_channels", "kernel_size", "stride", "padding",
                                 "output_padding", "dilation", "groups", "bias"});
  const int64_t out = kernels::read_int(attributes, op, "out_channels", std::nullopt, 1);
  const Pair kernel = kernels::read_pair(attributes, op, "kernel_size", std::nullopt, 1);
  const Pair stride = kernels::read_pair(attributes, op, "stride", Pair{1, 1}, 1);
  const Pair padding = kernels::read_pair(attributes, op, "padding", Pair{0, 0}, 0);
  const Pair output_padding = kernels::read_pair(attributes, op, "output_padding", Pair{0, 0}, 0);
  const Pair dilation = kernels::read_pair(attributes, op, "dilation", Pair{1, 1}, 1);
  const int64_t groups = kernels::read_int(attributes, op, "groups", 1, 1);
  const bool bias = kernels::read_bool(attributes, op, "bias", true);
  require(out % groups == 0, op + ": out_channels = " + std::to_string(out) +
                                 " must be a multiple of groups = " + std::to_string(groups));
  require(output_padding[0] < stride[0] && output_padding[1] < stride[1],
          op + ": output_padding " + kernels::pair_json(output_padding).dump() +
              " must be smaller than the stride " + kernels::pair_json(stride).dump());
  return std::make_unique<ConvTranspose2d>(out, kernel, stride, padding, output_padding,
                                           dilation, groups, bias);
}

}  // namespace shrink::ops
