// AvgPool2d over NCHW planes. With count_include_pad (the default, as in PyTorch) every window
// divides by its taps inside the padded image (kh*kw unless ceil_mode makes a window run past
// the padding), padding counting as zeros; without it, by the number of real pixels in the
// window. The padding before and after an axis may differ (ONNX's auto_pad SAME_*); no window
// may be all padding.
#include "nn/kernels/pool_window.hpp"
#include "nn/ops/ops.hpp"
#include "shrink/core/error.hpp"
#include "shrink/core/threading.hpp"

#include <algorithm>

namespace shrink::ops {
namespace {

class AvgPool2d final : public Op {
 public:
  AvgPool2d(std::array<kernels::PoolAxis, 2> axes, bool count_include_pad)
      : axes_(axes), count_include_pad_(count_include_pad) {}

  std::string type() const override { return "AvgPool2d"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    if (!(inputs.size() == 1))
      throw Error::bad_input("AvgPool2d takes 1 input, got " + std::to_string(inputs.size()));
    const Shape& x = inputs[0];
    if (!(x.size() == 4))
      throw Error::bad_input("AvgPool2d expects an NCHW input of rank 4, got shape " + to_string(x));
    const int64_t oh = axes_[0].output_size(x[2]), ow = axes_[1].output_size(x[3]);
    if (!(oh > 0 && ow > 0))
      throw Error::bad_input("AvgPool2d: input of shape " + to_string(x) +
                                  " is smaller than the kernel " +
                                  to_string({axes_[0].kernel, axes_[1].kernel}) + "; the output would be empty");
    if (!(axes_[0].every_window_real(x[2]) && axes_[1].every_window_real(x[3])))
      throw Error::bad_input("AvgPool2d: on input of shape " + to_string(x) +
                             " some window holds only padding");
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
          out[y * ow + xo] = sum / (wy.divisor * wx.divisor);
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
          const float g = dy[y * ow + xo] / (wy.divisor * wx.divisor);
          for (int64_t iy = wy.begin; iy < wy.end; ++iy)
            for (int64_t ix = wx.begin; ix < wx.end; ++ix) dx[iy * w + ix] += g;
        }
      }
    }
  }

  // One add per window element (there are no weights to multiply).
  int64_t macs(const std::vector<Shape>& inputs) const override {
    const Shape out = output_shape(inputs);
    return out[0] * out[1] * out[2] * out[3] * axes_[0].kernel * axes_[1].kernel;
  }

  nlohmann::json attributes() const override {
    nlohmann::json j = kernels::pool_axes_json(axes_, false);
    j["count_include_pad"] = count_include_pad_;
    return j;
  }

 private:
  // The real pixels [begin, end) under output position `o` along `axis`, and the axis's factor
  // of the window's divisor: the taps inside the padded image or only the real ones.
  struct Window {
    int64_t begin, end;
    float divisor;
  };

  Window window(int64_t o, int axis, int64_t size) const {
    const kernels::PoolAxis& a = axes_[static_cast<size_t>(axis)];
    const auto taps = a.taps(o, size);
    const int64_t counted = count_include_pad_ ? a.padded_count(o, size) : taps.count;
    return {taps.first, taps.first + taps.count, static_cast<float>(counted)};
  }

  std::array<kernels::PoolAxis, 2> axes_;
  bool count_include_pad_;
};

}  // namespace

std::unique_ptr<Op> make_avg_pool2d(const Json& attributes) {
  const std::string op = "AvgPool2d";
  kernels::check_attribute_keys(attributes, op, {"kernel_size", "stride", "padding",
                                                 "padding_end", "ceil_mode", "count_include_pad"});
  const bool count_include_pad = kernels::read_bool(attributes, op, "count_include_pad", true);
  return std::make_unique<AvgPool2d>(kernels::read_pool_axes(attributes, op, false),
                                     count_include_pad);
}

}  // namespace shrink::ops
