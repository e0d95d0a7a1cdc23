// AvgPool2d over NCHW planes. With count_include_pad (the default, as in PyTorch) every window
// divides by kh*kw, padding counting as zeros; without it, by the number of real pixels in the
// window. Padding is limited to half the kernel so no window is all padding.
#include "nn/kernels/attributes.hpp"
#include "nn/kernels/im2col.hpp"
#include "nn/ops/ops.hpp"
#include "shrink/core/error.hpp"
#include "shrink/core/threading.hpp"

#include <algorithm>

namespace shrink::ops {
namespace {

using kernels::Pair;

class AvgPool2d final : public Op {
 public:
  AvgPool2d(Pair kernel, Pair stride, Pair padding, bool count_include_pad)
      : kernel_(kernel), stride_(stride), padding_(padding),
        count_include_pad_(count_include_pad) {}

  std::string type() const override { return "AvgPool2d"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    if (!(inputs.size() == 1))
      throw Error::bad_input("AvgPool2d takes 1 input, got " + std::to_string(inputs.size()));
    const Shape& x = inputs[0];
    if (!(x.size() == 4))
      throw Error::bad_input("AvgPool2d expects an NCHW input of rank 4, got shape " + to_string(x));
    const int64_t oh = out_size(x[2], 0), ow = out_size(x[3], 1);
    if (!(oh > 0 && ow > 0))
      throw Error::bad_input("AvgPool2d: input of shape " + to_string(x) +
                                  " is smaller than the kernel " +
                                  to_string({kernel_[0], kernel_[1]}) + "; the output would be empty");
    return {x[0], x[1], oh, ow};
  }

  void forward(const OpArgs& args, Tensor& output) override {
    const Tensor& x = *args.inputs.at(0);
    output.resize(output_shape({x.shape()}));
    const int64_t planes = x.dim(0) * x.dim(1), h = x.dim(2), w = x.dim(3);
    const int64_t oh = output.dim(2), ow = output.dim(3);
    const float* xd = x.data();
    float* yd = output.data();
    const int threads = num_threads();
#pragma omp parallel for schedule(static) num_threads(threads) if (x.numel() >= (1 << 16))
    for (int64_t plane = 0; plane < planes; ++plane) {
      const float* in = xd + plane * h * w;
      float* out = yd + plane * oh * ow;
      for (int64_t y = 0; y < oh; ++y) {
        const Window wy = window(y, 0, h);
        for (int64_t xo = 0; xo < ow; ++xo) {
          const Window wx = window(xo, 1, w);
          float sum = 0.0f;
          for (int64_t iy = wy.begin; iy < wy.end; ++iy)
            for (int64_t ix = wx.begin; ix < wx.end; ++ix) sum += in[iy * w + ix];
          out[y * ow + xo] = sum / divisor(wy, wx);
        }
      }
    }
  }

  void backward(const OpArgs& args, const Tensor& output, const Tensor& grad_output,
                const std::vector<Tensor*>& grad_inputs) override {
    const Tensor& x = *args.inputs.at(0);
    if (!(grad_output.shape() == output.shape()))
      throw Error::bad_input("AvgPool2d: output gradient of shape " + to_string(grad_output.shape()) +
                " does not match the output " + to_string(output.shape()));
    Tensor* grad_x = grad_inputs.empty() ? nullptr : grad_inputs[0];
    if (!grad_x) return;
    grad_x->resize(x.shape());
    const int64_t planes = x.dim(0) * x.dim(1), h = x.dim(2), w = x.dim(3);
    const int64_t oh = output.dim(2), ow = output.dim(3);
    const float* dyd = grad_output.data();
    float* dxd = grad_x->data();
    const int threads = num_threads();
#pragma omp parallel for schedule(static) num_threads(threads) if (x.numel() >= (1 << 16))
    for (int64_t plane = 0; plane < planes; ++plane) {
      float* dx = dxd + plane * h * w;
      const float* dy = dyd + plane * oh * ow;
      std::fill(dx, dx + h * w, 0.0f);
      for (int64_t y = 0; y < oh; ++y) {
        const Window wy = window(y, 0, h);
        for (int64_t xo = 0; xo < ow; ++xo) {
          const Window wx = window(xo, 1, w);
          const float g = dy[y * ow + xo] / divisor(wy, wx);
          for (int64_t iy = wy.begin; iy < wy.end; ++iy)
            for (int64_t ix = wx.begin; ix < wx.end; ++ix) dx[iy * w + ix] += g;
        }
      }
    }
  }

  // One add per window element (there are no weights to multiply).
  int64_t macs(const std::vector<Shape>& inputs) const override {
    const Shape out = output_shape(inputs);
    return out[0] * out[1] * out[2] * out[3] * kernel_[0] * kernel_[1];
  }

  nlohmann::json attributes() const override {
    return {{"kernel_size", kernels::pair_json(kernel_)},
            {"stride", kernels::pair_json(stride_)},
            {"padding", kernels::pair_json(padding_)},
            {"count_include_pad", count_include_pad_}};
  }

 private:
  struct Window {
    int64_t begin, end;
  };

  // The real pixels [begin, end) under output position `o` along `axis`.
  Window window(int64_t o, int axis, int64_t size) const {
    const int64_t start = o * stride_[axis] - padding_[axis];
    return {std::max<int64_t>(start, 0), std::min(start + kernel_[axis], size)};
  }

  float divisor(const Window& wy, const Window& wx) const {
    if (count_include_pad_) return static_cast<float>(kernel_[0] * kernel_[1]);
    return static_cast<float>((wy.end - wy.begin) * (wx.end - wx.begin));
  }

  int64_t out_size(int64_t in, int axis) const {
    return kernels::Conv2dGeometry::output_size(in, kernel_[axis], stride_[axis], padding_[axis],
                                                1);
  }

  Pair kernel_, stride_, padding_;
  bool count_include_pad_;
};

}  // namespace

std::unique_ptr<Op> make_avg_pool2d(const Json& attributes) {
  const std::string op = "AvgPool2d";
  kernels::check_attribute_keys(attributes, op,
                                {"kernel_size", "stride", "padding", "count_include_pad"});
  const Pair kernel = kernels::read_pair(attributes, op, "kernel_size", std::nullopt, 1);
  const Pair stride = kernels::read_pair(attributes, op, "stride", kernel, 1);
  const Pair padding = kernels::read_pair(attributes, op, "padding", Pair{0, 0}, 0);
  const bool count_include_pad = kernels::read_bool(attributes, op, "count_include_pad", true);
  if (!(2 * padding[0] <= kernel[0] && 2 * padding[1] <= kernel[1]))
      throw Error::bad_input("AvgPool2d: padding " + to_string({padding[0], padding[1]}) +
              " must be at most half the kernel " + to_string({kernel[0], kernel[1]}));
  return std::make_unique<AvgPool2d>(kernel, stride, padding, count_include_pad);
}

}  // namespace shrink::ops
