// MaxPool2d over NCHW planes. Padding acts as -infinity (PyTorch), so it never wins; it is
// limited to half the kernel so every window holds a real pixel. Ties go to the first maximum
// in row-major window order and NaN propagates, as in PyTorch.
#include "nn/kernels/attributes.hpp"
#include "nn/kernels/im2col.hpp"
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
        const auto [y0, y1] = window(y, 0, h);
        for (int64_t xo = 0; xo < ow; ++xo) {
          const auto [x0, x1] = window(xo, 1, w);
          d[winner(in, w, y0, y1, x0, x1, out[y * ow + xo])] += g[y * ow + xo];
        }
      }
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

  // Input rows/columns [begin, end) that output `o` along `axis` covers, clipped to the image.
  std::pair<int64_t, int64_t> window(int64_t o, int axis, int64_t size) const {
    const int64_t start = o * stride_[axis] - padding_[axis];
    return {std::max<int64_t>(start, 0), std::min(start + kernel_[axis], size)};
  }

  // Selecting instead of branching keeps the loops free of unpredictable jumps; NaN wins and
  // then stays, as in PyTorch.
  static float max_with_nan(float best, float v) { return (v > best) | (v != v) ? v : best; }

  // LeNet's and VGG's pooling: 2x2 windows that tile an even-width plane without overlap.
  bool is_2x2_unpadded(int64_t w, int64_t ow) const {
    return kernel_ == Pair{2, 2} && stride_ == Pair{2, 2} && padding_ == Pair{0, 0} && w == 2 * ow;
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

  // Any window shape, clipped to the image.
  void pool_plane(const float* in, int64_t h, int64_t w, int64_t oh, int64_t ow,
                  float* out) const {
    for (int64_t y = 0; y < oh; ++y) {
      const auto [y0, y1] = window(y, 0, h);
      for (int64_t xo = 0; xo < ow; ++xo) {
        const auto [x0, x1] = window(xo, 1, w);
        float best = -std::numeric_limits<float>::infinity();
        for (int64_t iy = y0; iy < y1; ++iy)
          for (int64_t ix = x0; ix < x1; ++ix) best = max_with_nan(best, in[iy * w + ix]);
        out[y * ow + xo] = best;
      }
    }
  }

  // Index in the plane of the first window element equal to `best` (or NaN when it is NaN).
  static int64_t winner(const float* in, int64_t w, int64_t y0, int64_t y1, int64_t x0,
                        int64_t x1, float best) {
    const bool nan = std::isnan(best);
    for (int64_t iy = y0; iy < y1; ++iy)
      for (int64_t ix = x0; ix < x1; ++ix) {
        const float v = in[iy * w + ix];
        if (v == best || (nan && std::isnan(v))) return iy * w + ix;
      }
    return y0 * w + x0;  // unreachable for an output this op computed
  }

  Pair kernel_, stride_, padding_;
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
