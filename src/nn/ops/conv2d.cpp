// Conv2d on NCHW input with OIHW weights [out, in/groups, kh, kw] (the ONNX/PyTorch layout).
// The forward pass runs one sample at a time through nn/kernels/conv_forward.hpp (the plane,
// depthwise or GEMM method, picked by shape, on the widest instruction set the CPU runs),
// which adds the bias on the way to memory; the backward pass uses im2col + GEMM. Samples are
// split across OpenMP threads, each with its own scratch buffer (kept in the op, so
// steady-state training allocates nothing).
// The weight gradient is accumulated per thread and the partial sums are added in thread order,
// so a given thread count always gives the same bits. 1x1 stride-1 unpadded convolutions skip
// im2col: the input plane already is the column matrix.
// The same class is FusedConv2d (nn/ops/fused_ops.hpp): an inference lowering's convolution
// with a folded BatchNorm's scale, a residual input and a clamp in the kernels' epilogue. It
// runs on oneDNN (nn/kernels/onednn_convolution.hpp), or with SHRINK_ONEDNN_CONV=off on the
// hand-written kernels above.
// At inference either op runs a pruned weight past the density threshold on the sparse kernels
// instead (nn/kernels/sparse_conv.hpp), in the layouts the oneDNN convolution was given.
#include "nn/kernels/attributes.hpp"
#include "nn/kernels/conv_forward.hpp"
#include "nn/kernels/gemm.hpp"
#include "nn/kernels/im2col.hpp"
#include "nn/kernels/onednn_convolution.hpp"
#include "nn/kernels/parallel.hpp"
#include "nn/kernels/sparse_conv.hpp"
#include "nn/ops/fused_ops.hpp"
#include "nn/ops/ops.hpp"
#include "shrink/core/error.hpp"
#include "shrink/core/threading.hpp"

#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <memory>

namespace shrink::ops {
namespace {

using kernels::Pair;
using Buffer = std::vector<float, Eigen::aligned_allocator<float>>;

class Conv2d final : public Op {
 public:
  Conv2d(int64_t out_channels, Pair kernel, Pair stride, Pair padding, Pair dilation,
         int64_t groups, bool bias)
      : out_channels_(out_channels), kernel_(kernel), stride_(stride), padding_(padding),
        dilation_(dilation), groups_(groups), bias_(bias) {}

  // Makes this convolution a FusedConv2d, for inference only.
  void fuse(const LayerEpilogue& epilogue) {
    fused_ = true;
    epilogue_ = epilogue;
    if (kernels::onednn_convolutions_enabled()) {
      kernels::Fp32ConvolutionGeometry g;
      g.out_channels = out_channels_;
      g.groups = groups_;
      g.kernel_h = kernel_[0];
      g.kernel_w = kernel_[1];
      g.stride_h = stride_[0];
      g.stride_w = stride_[1];
      g.pad_h = padding_[0];
      g.pad_w = padding_[1];
      g.dilation_h = dilation_[0];
      g.dilation_w = dilation_[1];
      onednn_ = std::make_unique<kernels::Fp32Convolution>(
          g, kernels::Fp32ConvolutionEpilogue{epilogue.residual, epilogue.lo, epilogue.hi});
    }
  }

  std::string type() const override { return fused_ ? "FusedConv2d" : "Conv2d"; }

  // The oneDNN convolution of a FusedConv2d, or null (a Conv2d, or SHRINK_ONEDNN_CONV=off).
  kernels::Fp32Convolution* onednn() const { return onednn_.get(); }

  int arity() const override { return epilogue_.residual ? 2 : 1; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    const size_t count = epilogue_.residual ? 2 : 1;
    if (!(inputs.size() == count))
      throw Error::bad_input(type() + " takes " + std::to_string(count) + " input" +
                             (count > 1 ? "s" : "") + ", got " + std::to_string(inputs.size()));
    const Shape out = convolved_shape(inputs[0]);
    if (epilogue_.residual && inputs[1] != out)
      throw Error::bad_input(type() + ": the residual of shape " + to_string(inputs[1]) +
                             " does not match the output " + to_string(out));
    return out;
  }

  Shape convolved_shape(const Shape& x) const {
    if (!(x.size() == 4))
      throw Error::bad_input("Conv2d expects an NCHW input of rank 4, got shape " + to_string(x));
    if (!(x[1] > 0 && x[1] % groups_ == 0))
      throw Error::bad_input("Conv2d: input channels (" + std::to_string(x[1]) + " in shape " + to_string(x) +
                ") must be a positive multiple of groups = " + std::to_string(groups_));
    const kernels::Conv2dGeometry g = geometry(x);
    if (!(g.out_h() > 0 && g.out_w() > 0))
      throw Error::bad_input("Conv2d: input of shape " + to_string(x) + " is smaller than the kernel " +
                to_string({kernel_[0], kernel_[1]}) + " with dilation " +
                to_string({dilation_[0], dilation_[1]}) + " and padding " +
                to_string({padding_[0], padding_[1]}) + "; the output would be empty");
    return {x[0], out_channels_, g.out_h(), g.out_w()};
  }

  std::vector<ParameterSpec> parameter_specs(const std::vector<Shape>& inputs) const override {
    output_shape(inputs);
    const int64_t in_per_group = inputs[0][1] / groups_;
    const int64_t fan_in = in_per_group * kernel_[0] * kernel_[1];
    std::vector<ParameterSpec> specs;
    specs.push_back({"weight", {out_channels_, in_per_group, kernel_[0], kernel_[1]},
                     Init::KaimingUniform, fan_in, true});
    if (bias_) specs.push_back({"bias", {out_channels_}, Init::BiasUniform, fan_in, true});
    if (epilogue_.scale) specs.push_back({"scale", {out_channels_}, Init::Ones, fan_in, false});
    return specs;
  }

  void forward(const OpArgs& args, Tensor& output) override {
    if (fused_ && args.training)
      throw Error::internal(type() + " runs inference only; training runs the unfused graph");
    const Tensor& x = *args.inputs.at(0);
    const Shape out_shape = convolved_shape(x.shape());
    check_parameters(args, x.dim(1));
    const float* residual = nullptr;
    if (epilogue_.residual) {
      const Tensor& r = *args.inputs.at(1);
      if (!(r.shape() == out_shape))
        throw Error::bad_input(type() + ": the residual of shape " + to_string(r.shape()) +
                               " does not match the output " + to_string(out_shape));
      residual = r.data();
    }
    output.resize(out_shape);
    kernels::Epilogue epilogue;
    epilogue.shift = bias_ ? args.params[1]->value.data() : nullptr;
    if (epilogue_.scale) epilogue.scale = args.params[bias_ ? 2 : 1]->value.data();
    epilogue.lo = epilogue_.lo;
    epilogue.hi = epilogue_.hi;
    // A pruned weight past the density threshold: the sparse kernels (training stays dense),
    // in whatever layouts the oneDNN convolution's neighbours hand it.
    if (!args.training) {
      kernels::Epilogue batch = epilogue;
      batch.residual = residual;
      if (sparse_.forward(*args.params[0], sparse_shape(x.shape()),
                          onednn_ ? onednn_->layouts() : kernels::ActivationLayouts{}, x, batch, output))
        return;
    }
    if (onednn_) {
      onednn_->forward(*args.params[0], bias_ ? args.params[1] : nullptr,
                       epilogue_.scale ? args.params[bias_ ? 2 : 1] : nullptr, x,
                       epilogue_.residual ? args.inputs.at(1) : nullptr, output);
      return;
    }
    const Sizes z = sizes(x.shape());
    prepare_forward(z, args.params[0]->effective().data());
    const float* xd = x.data();
    float* yd = output.data();
    const int threads = prepare_buffers(z, false);
#pragma omp parallel num_threads(threads) if (z.batch_macs >= kernels::kParallelMacs)
    {
      const int t = omp_get_thread_num();
      const auto [s0, s1] = kernels::thread_range(z.n, t, omp_get_num_threads());
      float* buffer = columns_[static_cast<size_t>(t)].data();
      kernels::Epilogue sample = epilogue;
      for (int64_t s = s0; s < s1; ++s) {
        if (residual) sample.residual = residual + s * out_channels_ * z.p;
        forward_->run(xd + s * z.image, sample, buffer, yd + s * out_channels_ * z.p);
      }
    }
  }

  void backward(const OpArgs& args, const Tensor& output, const Tensor& grad_output,
                const std::vector<Tensor*>& grad_inputs) override {
    (void)output;
    if (fused_) throw Error::internal(type() + " runs inference only; training runs the unfused graph");
    const Tensor& x = *args.inputs.at(0);
    const Shape out_shape = output_shape({x.shape()});
    check_parameters(args, x.dim(1));
    if (!(grad_output.shape() == out_shape))
      throw Error::bad_input("Conv2d: output gradient of shape " + to_string(grad_output.shape()) +
                " does not match the output " + to_string(out_shape));
    Parameter& weight = *args.params[0];
    Parameter* bias = bias_ ? args.params[1] : nullptr;
    const bool weight_grad = weight.trainable;
    const bool bias_grad = bias && bias->trainable;
    if (!(!weight_grad || weight.grad.shape() == weight.value.shape()))
      throw Error::bad_input("Conv2d: the weight gradient is not allocated");
    if (!(!bias_grad || bias->grad.shape() == bias->value.shape()))
      throw Error::bad_input("Conv2d: the bias gradient is not allocated");
    Tensor* grad_x = grad_inputs.empty() ? nullptr : grad_inputs[0];
    if (grad_x) grad_x->resize(x.shape());
    if (!grad_x && !weight_grad && !bias_grad) return;

    const Sizes z = sizes(x.shape());
    const float* w = weight.effective().data();
    const float* xd = x.data();
    const float* dyd = grad_output.data();
    const int64_t weight_count = weight.value.numel();
    const int threads = prepare_buffers(z, true);
#pragma omp parallel num_threads(threads) if (z.batch_macs >= kernels::kParallelMacs)
    {
      const int t = omp_get_thread_num(), nt = omp_get_num_threads();
      const auto [s0, s1] = kernels::thread_range(z.n, t, nt);
      float* buffer = columns_[static_cast<size_t>(t)].data();
      float* dw = weight_partial_[static_cast<size_t>(t)].data();
      float* db = bias_partial_[static_cast<size_t>(t)].data();
      std::fill(dw, dw + weight_count, 0.0f);
      std::fill(db, db + out_channels_, 0.0f);
      for (int64_t s = s0; s < s1; ++s) {
        const float* image = xd + s * z.image;
        const float* dy = dyd + s * out_channels_ * z.p;
        if (weight_grad) {
          const float* cols = image;
          if (!z.pointwise) {
            kernels::im2col(z.g, image, buffer);
            cols = buffer;
          }
          // dW_g[og, k] += dY_g[og, p] cols_g[k, p]^T
          for (int64_t grp = 0; grp < groups_; ++grp)
            kernels::gemm(false, true, z.og, z.k, z.p, dy + grp * z.og * z.p, z.p,
                          cols + grp * z.k * z.p, z.p, true, dw + grp * z.og * z.k, z.k);
        }
        if (bias_grad) {
          for (int64_t o = 0; o < out_channels_; ++o) {
            const float* row = dy + o * z.p;
            float sum = 0.0f;
            for (int64_t i = 0; i < z.p; ++i) sum += row[i];
            db[o] += sum;
          }
        }
        if (grad_x) {
          // dcols_g[k, p] = W_g[og, k]^T dY_g[og, p], then scattered back onto the image.
          float* dx = grad_x->data() + s * z.image;
          float* dcols = z.pointwise ? dx : buffer;
          for (int64_t grp = 0; grp < groups_; ++grp)
            kernels::gemm(true, false, z.k, z.p, z.og, w + grp * z.og * z.k, z.k,
                          dy + grp * z.og * z.p, z.p, false, dcols + grp * z.k * z.p, z.p);
          if (!z.pointwise) kernels::col2im(z.g, dcols, dx);
        }
      }
#pragma omp barrier
      // Each thread sums its slice of the partials in thread order: deterministic.
      if (weight_grad) {
        const auto [i0, i1] = kernels::thread_range(weight_count, t, nt);
        float* grad = weight.grad.data();
        for (int u = 0; u < nt; ++u) {
          const float* part = weight_partial_[static_cast<size_t>(u)].data();
          for (int64_t i = i0; i < i1; ++i) grad[i] += part[i];
        }
      }
      if (bias_grad && t == 0) {
        float* grad = bias->grad.data();
        for (int u = 0; u < nt; ++u) {
          const float* part = bias_partial_[static_cast<size_t>(u)].data();
          for (int64_t o = 0; o < out_channels_; ++o) grad[o] += part[o];
        }
      }
    }
  }

  int64_t macs(const std::vector<Shape>& inputs) const override {
    const Shape out = output_shape(inputs);
    const int64_t per_output = inputs[0][1] / groups_ * kernel_[0] * kernel_[1];
    return out[0] * out[1] * out[2] * out[3] * per_output;
  }

  nlohmann::json attributes() const override {
    nlohmann::json a = {{"out_channels", out_channels_},        {"kernel_size", kernels::pair_json(kernel_)},
            {"stride", kernels::pair_json(stride_)}, {"padding", kernels::pair_json(padding_)},
            {"dilation", kernels::pair_json(dilation_)}, {"groups", groups_},
            {"bias", bias_}};
    if (fused_) {
      a["scale"] = epilogue_.scale;
      a["residual"] = epilogue_.residual;
      if (std::isfinite(epilogue_.lo)) a["min"] = epilogue_.lo;
      if (std::isfinite(epilogue_.hi)) a["max"] = epilogue_.hi;
    }
    return a;
  }

 private:
  struct Sizes {
    kernels::Conv2dGeometry g;
    int64_t n = 0, image = 0, p = 0, k = 0, og = 0;
    int64_t batch_macs = 0;
    bool pointwise = false;
  };

  kernels::Conv2dGeometry geometry(const Shape& x) const {
    kernels::Conv2dGeometry g;
    g.channels = x[1];
    g.height = x[2];
    g.width = x[3];
    g.kernel_h = kernel_[0];
    g.kernel_w = kernel_[1];
    g.stride_h = stride_[0];
    g.stride_w = stride_[1];
    g.pad_h = padding_[0];
    g.pad_w = padding_[1];
    g.dilation_h = dilation_[0];
    g.dilation_w = dilation_[1];
    return g;
  }

  kernels::SparseConvShape sparse_shape(const Shape& x) const {
    return {geometry(x), out_channels_, groups_};
  }

  Sizes sizes(const Shape& x) const {
    Sizes z;
    z.g = geometry(x);
    z.n = x[0];
    z.image = x[1] * x[2] * x[3];
    z.p = z.g.out_h() * z.g.out_w();
    z.k = x[1] / groups_ * kernel_[0] * kernel_[1];
    z.og = out_channels_ / groups_;
    z.batch_macs = z.n * out_channels_ * z.p * z.k;
    z.pointwise = kernel_[0] == 1 && kernel_[1] == 1 && stride_[0] == 1 && stride_[1] == 1 &&
                  padding_[0] == 0 && padding_[1] == 0;
    return z;
  }

  // The forward method and its tables depend on the input's shape; its packed weights on the
  // weights, which change between training steps: repacking costs one pass over the weights.
  void prepare_forward(const Sizes& z, const float* weights) {
    const std::array<int64_t, 3> input{z.g.channels, z.g.height, z.g.width};
    if (!forward_ || forward_geometry_ != input) {
      forward_ = std::make_unique<kernels::ConvForward>(z.g, out_channels_, groups_);
      forward_geometry_ = input;
    }
    forward_->pack_weights(weights);
  }

  // Grows the per-thread buffers (never shrinks them) and returns the thread count to use.
  // The forward pass needs its method's scratch, the backward pass a column matrix.
  int prepare_buffers(const Sizes& z, bool for_backward) {
    const int threads = std::max(1, num_threads());
    const auto size = static_cast<size_t>(threads);
    if (columns_.size() < size) columns_.resize(size);
    const size_t column_floats =
        !for_backward ? static_cast<size_t>(forward_->scratch_floats())
        : z.pointwise ? 0
                      : static_cast<size_t>(z.g.column_rows() * z.p);
    for (auto& b : columns_)
      if (b.size() < column_floats) b.resize(column_floats);
    if (for_backward) {
      if (weight_partial_.size() < size) weight_partial_.resize(size);
      if (bias_partial_.size() < size) bias_partial_.resize(size);
      const auto weight_floats = static_cast<size_t>(out_channels_ * z.k);
      for (auto& b : weight_partial_)
        if (b.size() < weight_floats) b.resize(weight_floats);
      for (auto& b : bias_partial_)
        if (b.size() < static_cast<size_t>(out_channels_))
          b.resize(static_cast<size_t>(out_channels_));
    }
    return threads;
  }

  void check_parameters(const OpArgs& args, int64_t in_channels) const {
    const size_t count = 1 + (bias_ ? 1 : 0) + (epilogue_.scale ? 1 : 0);
    if (!(args.params.size() == count))
      throw Error::bad_input(type() + ": expected " + std::to_string(count) + " parameters, got " +
                std::to_string(args.params.size()));
    const Shape expected{out_channels_, in_channels / groups_, kernel_[0], kernel_[1]};
    if (!(args.params[0]->value.shape() == expected))
      throw Error::bad_input("Conv2d: weight of shape " + to_string(args.params[0]->value.shape()) +
                " does not match [out, in/groups, kh, kw] = " + to_string(expected));
    if (!(!bias_ || args.params[1]->value.shape() == Shape{out_channels_}))
      throw Error::bad_input("Conv2d: bias of shape " + to_string(args.params[1]->value.shape()) +
                " does not match [" + std::to_string(out_channels_) + "]");
  }

  int64_t out_channels_;
  Pair kernel_, stride_, padding_, dilation_;
  int64_t groups_;
  bool bias_;
  // Per-thread scratch, reused across calls.
  std::vector<Buffer> columns_, weight_partial_, bias_partial_;
  // How forward runs, for inputs of channels x height x width forward_geometry_.
  std::unique_ptr<kernels::ConvForward> forward_;
  std::array<int64_t, 3> forward_geometry_{};
  // FusedConv2d: what the epilogue adds to the convolution.
  bool fused_ = false;
  LayerEpilogue epilogue_;
  // A FusedConv2d's oneDNN convolution, unless SHRINK_ONEDNN_CONV=off.
  std::unique_ptr<kernels::Fp32Convolution> onednn_;
  // The weight compressed for the sparse kernels, when it is sparse enough.
  kernels::SparseConvolution sparse_;
};

std::unique_ptr<Conv2d> build_conv2d(const Json& attributes) {

  const std::string op = "Conv2d";
  kernels::check_attribute_keys(attributes, op,
                                {"out_channels", "kernel_size", "stride", "padding", "dilation",
                                 "groups", "bias"});
  const int64_t out = kernels::read_int(attributes, op, "out_channels", std::nullopt, 1);
  const Pair kernel = kernels::read_pair(attributes, op, "kernel_size", std::nullopt, 1);
  const Pair stride = kernels::read_pair(attributes, op, "stride", Pair{1, 1}, 1);
  const Pair padding = kernels::read_pair(attributes, op, "padding", Pair{0, 0}, 0);
  const Pair dilation = kernels::read_pair(attributes, op, "dilation", Pair{1, 1}, 1);
  const int64_t groups = kernels::read_int(attributes, op, "groups", 1, 1);
  const bool bias = kernels::read_bool(attributes, op, "bias", true);
  if (!(out % groups == 0))
      throw Error::bad_input("Conv2d: out_channels = " + std::to_string(out) +
                                 " must be a multiple of groups = " + std::to_string(groups));
  return std::make_unique<Conv2d>(out, kernel, stride, padding, dilation, groups, bias);
}

}  // namespace

std::unique_ptr<Op> make_conv2d(const Json& attributes) { return build_conv2d(attributes); }

bool runs_on_onednn(const Op& op) {
  const auto* conv = dynamic_cast<const Conv2d*>(&op);
  return conv != nullptr && conv->onednn() != nullptr;
}

bool conv_runs_sparse(const Op& op, const Parameter& weight) {
  return dynamic_cast<const Conv2d*>(&op) != nullptr &&
         kernels::conv_runs_sparse(weight.nonzeros(), weight.value.numel());
}

void set_activation_layouts(Op& op, const ActivationLayouts& layouts) {
  auto* conv = dynamic_cast<Conv2d*>(&op);
  if (conv == nullptr || conv->onednn() == nullptr)
    throw Error::internal(op.type() + " does not run on oneDNN; only its convolutions take channels-last tensors");
  conv->onednn()->set_layouts(layouts);
}

std::unique_ptr<Op> make_fused_conv2d(const Json& attributes, const LayerEpilogue& epilogue) {
  std::unique_ptr<Conv2d> conv = build_conv2d(attributes);
  conv->fuse(epilogue);
  return conv;
}

}  // namespace shrink::ops
