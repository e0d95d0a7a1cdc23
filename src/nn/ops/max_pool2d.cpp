// MaxPool2d over NCHW planes. Padding acts as -infinity (PyTorch), so it never wins; the padding
// before and after each axis may differ (ONNX's auto_pad SAME_*), and every window must hold a
// real pixel. Dilation spreads the window's taps; ceil_mode rounds the output size up. Ties go
// to the first maximum in row-major window order and NaN propagates, as in PyTorch.
#include "nn/kernels/pool_window.hpp"
#include "nn/ops/ops.hpp"
#include "shrink/core/error.hpp"
#include "shrink/core/threading.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

namespace shrink::ops {
namespace {

class MaxPool2d final : public Op {
 public:
  explicit MaxPool2d(std::array<kernels::PoolAxis, 2> axes) : axes_(axes) {}

  std::string type() const override { return "MaxPool2d"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    if (!(inputs.size() == 1))
      throw Error::bad_input("MaxPool2d takes 1 input, got " + std::to_string(inputs.size()));
    const Shape& x = inputs[0];
    if (!(x.size() == 4))
      throw Error::bad_input("MaxPool2d expects an NCHW input of rank 4, got shape " + to_string(x));
    const int64_t oh = axes_[0].output_size(x[2]), ow = axes_[1].output_size(x[3]);
    if (!(oh > 0 && ow > 0))
      throw Error::bad_input("MaxPool2d: input of shape " + to_string(x) +
                                  " is smaller than the kernel " +
                                  to_string({axes_[0].kernel, axes_[1].kernel}) + "; the output would be empty");
    if (!(axes_[0].every_window_real(x[2]) && axes_[1].every_window_real(x[3])))
      throw Error::bad_input("MaxPool2d: on input of shape " + to_string(x) +
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
      if (is_2x2_unpadded(w, ow))
        pool_2x2_plane(in, w, oh, out);
      else
        pool_plane(in, h, w, oh, ow, out);
    }
  }

  // The winner of each window is found again from the input and the output, not kept from the
  // forward pass: inference then pays nothing for it. It is the first element equal to the
  // output (the first NaN when the output is NaN), the same element the forward pass kept.
  void backward(const OpArgs& args, const Tensor& output, const Tensor& grad_output,
                const std::vector<Tensor*>& grad_inputs) override {
    const Tensor& x = *args.inputs.at(0);
    if (!(grad_output.shape() == output.shape()))
      throw Error::bad_input("MaxPool2d: output gradient of shape " + to_string(grad_output.shape()) +
                " does not match the output " + to_string(output.shape()));
    if (!(output.shape() == output_shape({x.shape()})))
      throw Error::internal("MaxPool2d: backward called with an output of shape " +
                            to_string(output.shape()) + " that is not this op's output for " +
                            to_string(x.shape()));
    Tensor* grad_x = grad_inputs.empty() ? nullptr : grad_inputs[0];
    if (!grad_x) return;
    grad_x->resize(x.shape());
    const int64_t planes = x.dim(0) * x.dim(1), h = x.dim(2), w = x.dim(3);
    const int64_t oh = output.dim(2), ow = output.dim(3);
    const float* xd = x.data();
    const float* yd = output.data();
    const float* dy = grad_output.data();
    float* dx = grad_x->data();
    const int threads = num_threads();
#pragma omp parallel for schedule(static) num_threads(threads) if (x.numel() >= (1 << 16))
    for (int64_t plane = 0; plane < planes; ++plane) {
      const float* in = xd + plane * h * w;
      const float* out = yd + plane * oh * ow;
      const float* g = dy + plane * oh * ow;
      float* d = dx + plane * h * w;
      std::fill(d, d + h * w, 0.0f);
      if (is_2x2_unpadded(w, ow)) {
        route_2x2_plane(in, out, g, w, oh, d);
        continue;
      }
      for (int64_t y = 0; y < oh; ++y) {
        const auto ty = axes_[0].taps(y, h);
        for (int64_t xo = 0; xo < ow; ++xo) {
          const auto tx = axes_[1].taps(xo, w);
          d[winner(in, w, ty, tx, out[y * ow + xo])] += g[y * ow + xo];
        }
      }
    }
  }

  nlohmann::json attributes() const override { return kernels::pool_axes_json(axes_, true); }

 private:

  // Selecting instead of branching keeps the loops free of unpredictable jumps; NaN wins and
  // then stays, as in PyTorch.
  static float max_with_nan(float best, float v) { return (v > best) | (v != v) ? v : best; }

  // LeNet's and VGG's pooling: 2x2 windows that tile an even-width plane without overlap.
  bool is_2x2_unpadded(int64_t w, int64_t ow) const {
    for (const kernels::PoolAxis& a : axes_)
      if (!(a.kernel == 2 && a.stride == 2 && a.dilation == 1 && a.pad_begin == 0 &&
            a.pad_end == 0))
        return false;
    return w == 2 * ow;
  }

  // The backward pass of pool_2x2_plane. Windows do not overlap, so each of the four inputs of a
  // window is written once, with the gradient or zero, by selects rather than a search: the
  // first input equal to the output (or the first NaN) takes it.
  static void route_2x2_plane(const float* in, const float* out, const float* grad, int64_t w,
                              int64_t oh, float* d) {
    const int64_t ow = w / 2;
    for (int64_t y = 0; y < oh; ++y) {
      const float* top = in + 2 * y * w;
      const float* bottom = top + w;
      float* d_top = d + 2 * y * w;
      float* d_bottom = d_top + w;
      for (int64_t xo = 0; xo < ow; ++xo) {
        const float m = out[y * ow + xo], g = grad[y * ow + xo];
        const bool a = same(top[2 * xo], m);
        const bool b = !a & same(top[2 * xo + 1], m);
        const bool c = !(a | b) & same(bottom[2 * xo], m);
        const bool rest = !(a | b | c);
        d_top[2 * xo] = a ? g : 0.0f;
        d_top[2 * xo + 1] = b ? g : 0.0f;
        d_bottom[2 * xo] = c ? g : 0.0f;
        d_bottom[2 * xo + 1] = rest ? g : 0.0f;
      }
    }
  }

  // Whether input v is the value a window's maximum took: equal, or both NaN.
  static bool same(float v, float max) { return (v == max) | ((v != v) & (max != max)); }

  // LeNet's and VGG's 2x2 stride-2 pooling of an even-width plane, in two vectorized passes:
  // each pair of rows into one row of column maxima, then each pair of neighbours in the
  // result, which (the width being even) is one long loop over the whole plane. Output rows are
  // too short (12 floats in LeNet) to vectorize one at a time.
  static void pool_2x2_plane(const float* in, int64_t w, int64_t oh, float* out) {
    thread_local std::vector<float> column_max;
    column_max.resize(static_cast<size_t>(oh * w));
    float* columns = column_max.data();
    for (int64_t y = 0; y < oh; ++y) {
      const float* top = in + 2 * y * w;
      float* row = columns + y * w;
      for (int64_t x = 0; x < w; ++x) row[x] = max_with_nan(top[x], top[w + x]);
    }
    for (int64_t i = 0; i < oh * w / 2; ++i)
      out[i] = max_with_nan(columns[2 * i], columns[2 * i + 1]);
  }

  // Any window shape: its taps that fall on the image.
  void pool_plane(const float* in, int64_t h, int64_t w, int64_t oh, int64_t ow,
                  float* out) const {
    const int64_t dy = axes_[0].dilation, dx = axes_[1].dilation;
    for (int64_t y = 0; y < oh; ++y) {
      const auto ty = axes_[0].taps(y, h);
      for (int64_t xo = 0; xo < ow; ++xo) {
        const auto tx = axes_[1].taps(xo, w);
        float best = -std::numeric_limits<float>::infinity();
        for (int64_t i = 0; i < ty.count; ++i)
          for (int64_t j = 0; j < tx.count; ++j)
            best = max_with_nan(best, in[(ty.first + i * dy) * w + tx.first + j * dx]);
        out[y * ow + xo] = best;
      }
    }
  }

  // Index in the plane of the first window element equal to `best` (or NaN when it is NaN).
  int64_t winner(const float* in, int64_t w, const kernels::PoolAxis::Taps& ty,
                 const kernels::PoolAxis::Taps& tx, float best) const {
    const bool nan = std::isnan(best);
    const int64_t dy = axes_[0].dilation, dx = axes_[1].dilation;
    for (int64_t i = 0; i < ty.count; ++i)
      for (int64_t j = 0; j < tx.count; ++j) {
        const int64_t at = (ty.first + i * dy) * w + tx.first + j * dx;
        if (in[at] == best || (nan && std::isnan(in[at]))) return at;
      }
    return ty.first * w + tx.first;  // unreachable for an output this op computed
  }

  std::array<kernels::PoolAxis, 2> axes_;
};

}  // namespace

std::unique_ptr<Op> make_max_pool2d(const Json& attributes) {
  const std::string op = "MaxPool2d";
  kernels::check_attribute_keys(attributes, op, {"kernel_size", "stride", "padding",
                                                 "padding_end", "dilation", "ceil_mode"});
  return std::make_unique<MaxPool2d>(kernels::read_pool_axes(attributes, op, true));
}

}  // namespace shrink::ops
