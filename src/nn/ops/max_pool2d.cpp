// MaxPool2d over NCHW planes. Padding acts as -infinity (PyTorch), so it never wins; it is
// limited to half the kernel so every window holds a real pixel. Ties go to the first maximum
// in row-major window order and NaN propagates, as in PyTorch. The forward pass keeps the
// winning index of every output for the backward pass.
#include "nn/kernels/attributes.hpp"
#include "nn/kernels/im2col.hpp"
#include "nn/ops/ops.hpp"
#include "shrink/core/error.hpp"
#include "shrink/core/threading.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace shrink::ops {
namespace {

using kernels::Pair;

class MaxPool2d final : public Op {
 public:
  MaxPool2d(Pair kernel, Pair stride, Pair padding)
      : kernel_(kernel), stride_(stride), padding_(padding) {}

  std::string type() const override { return "MaxPool2d"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    if (!(inputs.size() == 1))
      throw Error::bad_input("MaxPool2d takes 1 input, got " + std::to_string(inputs.size()));
    const Shape& x = inputs[0];
    if (!(x.size() == 4))
      throw Error::bad_input("MaxPool2d expects an NCHW input of rank 4, got shape " + to_string(x));
    const int64_t oh = out_size(x[2], 0), ow = out_size(x[3], 1);
    if (!(oh > 0 && ow > 0))
      throw Error::bad_input("MaxPool2d: input of shape " + to_string(x) +
                                  " is smaller than the kernel " +
                                  to_string({kernel_[0], kernel_[1]}) + "; the output would be empty");
    return {x[0], x[1], oh, ow};
  }

  void forward(const OpArgs& args, Tensor& output) override {
    const Tensor& x = *args.inputs.at(0);
    output.resize(output_shape({x.shape()}));
    const int64_t planes = x.dim(0) * x.dim(1), h = x.dim(2), w = x.dim(3);
    const int64_t oh = output.dim(2), ow = output.dim(3);
    argmax_.resize(static_cast<size_t>(output.numel()));
    input_shape_ = x.shape();
    const float* xd = x.data();
    float* yd = output.data();
    int32_t* arg = argmax_.data();
    const int threads = num_threads();
#pragma omp parallel for schedule(static) num_threads(threads) if (x.numel() >= (1 << 16))
    for (int64_t plane = 0; plane < planes; ++plane) {
      const float* in = xd + plane * h * w;
      float* out = yd + plane * oh * ow;
      int32_t* idx = arg + plane * oh * ow;
      for (int64_t y = 0; y < oh; ++y) {
        const int64_t y0 = std::max<int64_t>(y * stride_[0] - padding_[0], 0);
        const int64_t y1 = std::min(y * stride_[0] - padding_[0] + kernel_[0], h);
        for (int64_t xo = 0; xo < ow; ++xo) {
          const int64_t x0 = std::max<int64_t>(xo * stride_[1] - padding_[1], 0);
          const int64_t x1 = std::min(xo * stride_[1] - padding_[1] + kernel_[1], w);
          float best = -std::numeric_limits<float>::infinity();
          int64_t best_index = y0 * w + x0;
          for (int64_t iy = y0; iy < y1; ++iy)
            for (int64_t ix = x0; ix < x1; ++ix) {
              const float v = in[iy * w + ix];
              if (v > best || std::isnan(v)) {
                best = v;
                best_index = iy * w + ix;
                if (std::isnan(v)) iy = y1, ix = x1;  // NaN wins; stop looking
              }
            }
          out[y * ow + xo] = in[best_index];
          idx[y * ow + xo] = static_cast<int32_t>(best_index);
        }
      }
    }
  }

  void backward(const OpArgs& args, const Tensor& output, const Tensor& grad_output,
                const std::vector<Tensor*>& grad_inputs) override {
    const Tensor& x = *args.inputs.at(0);
    if (!(grad_output.shape() == output.shape()))
      throw Error::bad_input("MaxPool2d: output gradient of shape " + to_string(grad_output.shape()) +
                " does not match the output " + to_string(output.shape()));
    if (x.shape() != input_shape_ || static_cast<int64_t>(argmax_.size()) != output.numel())
      throw Error::internal("MaxPool2d: backward called without a matching forward pass");
    Tensor* grad_x = grad_inputs.empty() ? nullptr : grad_inputs[0];
    if (!grad_x) return;
    grad_x->resize(x.shape());
    const int64_t planes = x.dim(0) * x.dim(1), image = x.dim(2) * x.dim(3);
    const int64_t outputs = output.dim(2) * output.dim(3);
    const float* dy = grad_output.data();
    const int32_t* arg = argmax_.data();
    float* dx = grad_x->data();
    const int threads = num_threads();
#pragma omp parallel for schedule(static) num_threads(threads) if (x.numel() >= (1 << 16))
    for (int64_t plane = 0; plane < planes; ++plane) {
      float* d = dx + plane * image;
      std::fill(d, d + image, 0.0f);
      const float* g = dy + plane * outputs;
      const int32_t* idx = arg + plane * outputs;
      for (int64_t i = 0; i < outputs; ++i) d[idx[i]] += g[i];
    }
  }

  nlohmann::json attributes() const override {
    return {{"kernel_size", kernels::pair_json(kernel_)},
            {"stride", kernels::pair_json(stride_)},
            {"padding", kernels::pair_json(padding_)}};
  }

 private:
  int64_t out_size(int64_t in, int axis) const {
    return kernels::Conv2dGeometry::output_size(in, kernel_[axis], stride_[axis], padding_[axis],
                                                1);
  }

  Pair kernel_, stride_, padding_;
  std::vector<int32_t> argmax_;  // winning index inside each input plane, per output
  Shape input_shape_;
};

}  // namespace

std::unique_ptr<Op> make_max_pool2d(const Json& attributes) {
  const std::string op = "MaxPool2d";
  kernels::check_attribute_keys(attributes, op, {"kernel_size", "stride", "padding"});
  const Pair kernel = kernels::read_pair(attributes, op, "kernel_size", std::nullopt, 1);
  const Pair stride = kernels::read_pair(attributes, op, "stride", kernel, 1);
  const Pair padding = kernels::read_pair(attributes, op, "padding", Pair{0, 0}, 0);
  if (!(2 * padding[0] <= kernel[0] && 2 * padding[1] <= kernel[1]))
      throw Error::bad_input("MaxPool2d: padding " + to_string({padding[0], padding[1]}) +
              " must be at most half the kernel " + to_string({kernel[0], kernel[1]}));
  return std::make_unique<MaxPool2d>(kernel, stride, padding);
}

}  // namespace shrink::ops
