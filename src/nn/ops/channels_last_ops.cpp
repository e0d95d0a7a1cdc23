// The channels-last forms of the ops that sit between oneDNN convolutions in real CNNs
// (MaxPool2d in VGG, Concat of branches, the GlobalAvgPool before the classifier), for the
// fp32 inference lowering (nn/fused_execution.hpp): they read NHWC data under an NCHW shape,
// as the convolutions write it, so the activations are not transposed around them. Each wraps
// the op it replaces, which keeps the shapes, the attributes and the error messages.
#include "nn/kernels/pool_window.hpp"
#include "nn/ops/fused_ops.hpp"
#include "nn/ops/ops.hpp"
#include "shrink/core/error.hpp"
#include "shrink/core/threading.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace shrink::ops {
namespace {

using Json = nlohmann::json;

class ChannelsLast : public Op {
 public:
  explicit ChannelsLast(std::unique_ptr<Op> inner) : inner_(std::move(inner)) {}

  std::string type() const override { return "ChannelsLast" + inner_->type(); }
  int arity() const override { return inner_->arity(); }
  Shape output_shape(const std::vector<Shape>& inputs) const override {
    return inner_->output_shape(inputs);
  }
  Json attributes() const override { return inner_->attributes(); }

  void forward(const OpArgs& args, Tensor& output) override {
    if (args.training) throw Error::internal(type() + " runs inference only; training runs the graph");
    std::vector<Shape> shapes;
    for (const Tensor* x : args.inputs) shapes.push_back(x->shape());
    output.resize(output_shape(shapes));
    run(args.inputs, output);
  }

  void backward(const OpArgs&, const Tensor&, const Tensor&, const std::vector<Tensor*>&) override {
    throw Error::internal(type() + " runs inference only; training runs the graph");
  }

 protected:
  virtual void run(const std::vector<const Tensor*>& inputs, Tensor& output) = 0;

 private:
  std::unique_ptr<Op> inner_;
};

// Max over each window, a vector of channels at a time; NaN propagates as in MaxPool2d.
class ChannelsLastMaxPool2d final : public ChannelsLast {
 public:
  explicit ChannelsLastMaxPool2d(const Json& attributes)
      : ChannelsLast(make_max_pool2d(attributes)),
        axes_(kernels::read_pool_axes(attributes, "MaxPool2d", true)) {}

 private:
  void run(const std::vector<const Tensor*>& inputs, Tensor& output) override {
    const Tensor& x = *inputs[0];
    const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
    const int64_t oh = output.dim(2), ow = output.dim(3);
    const float* xd = x.data();
    float* yd = output.data();
#pragma omp parallel for schedule(static) num_threads(num_threads()) if (x.numel() >= (1 << 16))
    for (int64_t row = 0; row < n * oh; ++row) {
      const int64_t s = row / oh, i = row % oh;
      const kernels::PoolAxis::Taps ti = axes_[0].taps(i, h);
      for (int64_t j = 0; j < ow; ++j) {
        const kernels::PoolAxis::Taps tj = axes_[1].taps(j, w);
        float* y = yd + ((s * oh + i) * ow + j) * c;
        std::fill(y, y + c, -std::numeric_limits<float>::infinity());
        for (int64_t a = 0; a < ti.count; ++a)
          for (int64_t b = 0; b < tj.count; ++b) {
            const int64_t r = ti.first + a * axes_[0].dilation, col = tj.first + b * axes_[1].dilation;
            const float* v = xd + ((s * h + r) * w + col) * c;
            for (int64_t k = 0; k < c; ++k) y[k] = v[k] > y[k] || v[k] != v[k] ? v[k] : y[k];
          }
      }
    }
  }

  std::array<kernels::PoolAxis, 2> axes_;
};

// Along the channels: each pixel's channels of every input, one after another.
class ChannelsLastConcat final : public ChannelsLast {
 public:
  explicit ChannelsLastConcat(const Json& attributes) : ChannelsLast(make_concat(attributes)) {}

 private:
  void run(const std::vector<const Tensor*>& inputs, Tensor& output) override {
    const int64_t pixels = output.dim(0) * output.dim(2) * output.dim(3), c = output.dim(1);
    float* yd = output.data();
#pragma omp parallel for schedule(static) num_threads(num_threads()) if (output.numel() >= (1 << 16))
    for (int64_t p = 0; p < pixels; ++p) {
      float* y = yd + p * c;
      for (const Tensor* x : inputs) {
        const int64_t width = x->dim(1);
        const float* v = x->data() + p * width;
        y = std::copy(v, v + width, y);
      }
    }
  }
};

// The mean of each channel over the pixels; [N, C, 1, 1] is the same bytes in either layout.
class ChannelsLastGlobalAvgPool final : public ChannelsLast {
 public:
  explicit ChannelsLastGlobalAvgPool(const Json& attributes)
      : ChannelsLast(make_global_avg_pool(attributes)) {}

 private:
  void run(const std::vector<const Tensor*>& inputs, Tensor& output) override {
    const Tensor& x = *inputs[0];
    const int64_t n = x.dim(0), c = x.dim(1), pixels = x.dim(2) * x.dim(3);
    const float* xd = x.data();
    float* yd = output.data();
    const float inverse = 1.0f / static_cast<float>(pixels);
#pragma omp parallel for schedule(static) num_threads(num_threads()) if (x.numel() >= (1 << 16))
    for (int64_t s = 0; s < n; ++s) {
      float* y = yd + s * c;
      std::fill(y, y + c, 0.0f);
      for (int64_t p = 0; p < pixels; ++p) {
        const float* v = xd + (s * pixels + p) * c;
        for (int64_t k = 0; k < c; ++k) y[k] += v[k];
      }
      for (int64_t k = 0; k < c; ++k) y[k] *= inverse;
    }
  }
};

}  // namespace

std::unique_ptr<Op> make_channels_last(const Op& op) {
  const std::string type = op.type();
  if (type == "MaxPool2d") return std::make_unique<ChannelsLastMaxPool2d>(op.attributes());
  if (type == "Concat") return std::make_unique<ChannelsLastConcat>(op.attributes());
  if (type == "GlobalAvgPool") return std::make_unique<ChannelsLastGlobalAvgPool>(op.attributes());
  throw Error::internal(type + " has no channels-last form");
}

}  // namespace shrink::ops
