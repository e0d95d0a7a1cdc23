#include "nn/kernels/onednn_convolution.hpp"

#include "core/environment.hpp"
#include "nn/kernels/onednn.hpp"
#include "shrink/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace shrink::kernels {
namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

// The residual sum and the clamp as post-ops, in the epilogue's order.
dnnl::primitive_attr epilogue_attributes(const Fp32ConvolutionEpilogue& epilogue) {
  dnnl::post_ops post;
  if (epilogue.residual) post.append_sum(1.0f);
  const bool low = std::isfinite(epilogue.lo), high = std::isfinite(epilogue.hi);
  if (low && !high && epilogue.lo == 0.0f) {
    post.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  } else if (low || high) {
    // A one-sided Clip bounds the other side at the largest float, which no finite sum passes.
    const float largest = std::numeric_limits<float>::max();
    post.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, low ? epilogue.lo : -largest,
                        high ? epilogue.hi : largest);
  }
  dnnl::primitive_attr attributes;
  attributes.set_post_ops(post);
  return attributes;
}

// Whether Winograd's F(4x4, 3x3) beats the direct convolution: oneDNN has it for AVX-512 on
// blocked nChw16c tensors (reordered from and to the caller's inside the layer) and multiplies
// 2.25x fewer times. Per layer in vgg-small's slices of 5 samples (ONEDNN_VERBOSE=1) it ran
// 32->32 channels on 28x28, 32->64 and 64->64 on 14x14 1.4-1.6x faster than the direct kernel,
// but 32->32 on 14x14 (resnet-small) no faster, and the reorders then lose: so from 32 x 64
// channels x 14 x 14 output pixels of work per sample.
bool winograd_shape(const Fp32ConvolutionGeometry& g, int64_t channels, int64_t out_pixels) {
  return g.kernel_h == 3 && g.kernel_w == 3 && g.stride_h == 1 && g.stride_w == 1 &&
         g.dilation_h == 1 && g.dilation_w == 1 && g.groups == 1 && channels % 16 == 0 &&
         g.out_channels % 16 == 0 && channels * g.out_channels * out_pixels >= 32 * 64 * 14 * 14 &&
         onednn_isa().rfind("avx512", 0) == 0;
}

}  // namespace

bool onednn_convolutions_enabled() {
  static const bool enabled = auto_or_off("SHRINK_ONEDNN_CONV", "a oneDNN convolution");
  return enabled;
}

bool winograd_enabled() {
  static const bool enabled = auto_or_off("SHRINK_WINOGRAD", "a Winograd");
  return enabled;
}

struct Fp32Convolution::Cached {
  int64_t batch = 0;
  dnnl::convolution_forward primitive;
  dnnl::memory source, weights, bias, destination;
  // The caller's tensors (NCHW or channels-last), reordered where the primitive's differ.
  dnnl::memory planar_in, planar_out, planar_residual;
  bool reorder_in = false, reorder_out = false, reorder_residual = false;
  dnnl::reorder to_source, residual_to_destination, to_planar;
};

Fp32Convolution::Fp32Convolution(Fp32ConvolutionGeometry geometry, Fp32ConvolutionEpilogue epilogue)
    : geometry_(geometry), epilogue_(epilogue) {}
Fp32Convolution::~Fp32Convolution() = default;
Fp32Convolution::Fp32Convolution(Fp32Convolution&&) noexcept = default;
Fp32Convolution& Fp32Convolution::operator=(Fp32Convolution&&) noexcept = default;

void Fp32Convolution::set_layouts(const ActivationLayouts& layouts) {
  layouts_ = layouts;
  cache_.clear();
}

void Fp32Convolution::forward(const Parameter& weight, const Parameter* bias,
                              const Parameter* scale, const Tensor& x, const Tensor* residual,
                              Tensor& y) {
  const Fp32ConvolutionGeometry& g = geometry_;
  const int64_t n = x.dim(0), channels = x.dim(1), height = x.dim(2), width = x.dim(3);
  const int64_t out = g.out_channels, out_h = y.dim(2), out_w = y.dim(3);
  if (!(y.dim(0) == n && y.dim(1) == out) || (residual != nullptr) != epilogue_.residual ||
      (residual != nullptr && residual->shape() != y.shape()))
    throw Error::internal("oneDNN convolution: the input, output and residual shapes disagree");

  // The scale folds into the weights: redone when the weight or the scale changes.
  const uint64_t weight_version = weight.effective_version();
  const uint64_t bias_version = bias ? bias->effective_version() : 0;
  const uint64_t scale_version = scale ? scale->effective_version() : 0;
  if (weight_version != weight_version_ || bias_version != bias_version_ ||
      scale_version != scale_version_ || folded_.empty()) {
    cache_.clear();
    const Tensor& w = weight.effective();
    folded_.assign(w.data(), w.data() + w.numel());
    if (scale != nullptr) {
      const int64_t per_channel = w.numel() / out;
      const Tensor& s = scale->effective();
      for (int64_t o = 0; o < out; ++o)
        for (int64_t i = 0; i < per_channel; ++i) folded_[static_cast<size_t>(o * per_channel + i)] *= s[o];
    }
    weight_version_ = weight_version;
    bias_version_ = bias_version;
    scale_version_ = scale_version;
  }

  Cached* cached = cache_.find(n);
  dnnl::engine& engine = onednn_engine();
  dnnl::stream& stream = onednn_stream();
  if (cached == nullptr) {
    try {
      const dnnl::memory::dims source_dims = {n, channels, height, width};
      const dnnl::memory::dims destination_dims = {n, out, out_h, out_w};
      const int64_t per_group = channels / g.groups;
      const dnnl::memory::dims weight_dims =
          g.groups == 1 ? dnnl::memory::dims{out, channels, g.kernel_h, g.kernel_w}
                        : dnnl::memory::dims{g.groups, out / g.groups, per_group, g.kernel_h, g.kernel_w};
      const dnnl::memory::desc bias_desc =
          bias ? dnnl::memory::desc({out}, dt::f32, tag::x) : dnnl::memory::desc();
      // The right padding that gives this output size (oneDNN asks for both sides).
      const int64_t pad_bottom =
          (out_h - 1) * g.stride_h + (g.kernel_h - 1) * g.dilation_h + 1 - height - g.pad_h;
      const int64_t pad_right =
          (out_w - 1) * g.stride_w + (g.kernel_w - 1) * g.dilation_w + 1 - width - g.pad_w;
      const auto make = [&](dnnl::algorithm algorithm, tag activations) {
        return dnnl::convolution_forward::primitive_desc(
            dnnl::convolution_forward::desc(
                dnnl::prop_kind::forward_inference, algorithm,
                dnnl::memory::desc(source_dims, dt::f32, activations),
                dnnl::memory::desc(weight_dims, dt::f32, tag::any), bias_desc,
                dnnl::memory::desc(destination_dims, dt::f32, activations), {g.stride_h, g.stride_w},
                {g.dilation_h - 1, g.dilation_w - 1}, {g.pad_h, g.pad_w}, {pad_bottom, pad_right}),
            epilogue_attributes(epilogue_), engine);
      };
      dnnl::convolution_forward::primitive_desc pd;
      if (winograd_enabled() && winograd_shape(g, channels, out_h * out_w)) {
        try {
          pd = make(dnnl::algorithm::convolution_winograd, tag::nChw16c);
        } catch (const dnnl::error&) {
          // No Winograd kernel for this epilogue (a one-sided Clip): the direct one.
        }
      }
      if (!pd) pd = make(dnnl::algorithm::convolution_direct, tag::nhwc);
      auto entry = std::make_unique<Cached>();
      entry->batch = n;
      entry->primitive = dnnl::convolution_forward(pd);

      dnnl::memory user_weights(
          dnnl::memory::desc(weight_dims, dt::f32, g.groups == 1 ? tag::oihw : tag::goihw), engine,
          folded_.data());
      entry->weights = dnnl::memory(pd.weights_desc(), engine);
      dnnl::reorder(user_weights, entry->weights).execute(stream, user_weights, entry->weights);
      if (bias) entry->bias = dnnl::memory(bias_desc, engine, DNNL_MEMORY_NONE);

      // The caller's tensors are NCHW or channels-last (one channel is the same bytes in
      // either); the primitive's channels-last or, for Winograd, blocked: reordered where they differ.
      const auto given = [&](const dnnl::memory::dims& dims, bool channels_last) {
        return dnnl::memory(dnnl::memory::desc(dims, dt::f32, channels_last || dims[1] == 1 ? tag::nhwc : tag::nchw),
                            engine, DNNL_MEMORY_NONE);
      };
      entry->planar_in = given(source_dims, layouts_.input_channels_last);
      entry->planar_out = given(destination_dims, layouts_.output_channels_last);
      entry->planar_residual = given(destination_dims, layouts_.residual_channels_last);
      entry->reorder_in = pd.src_desc() != entry->planar_in.get_desc();
      entry->reorder_out = pd.dst_desc() != entry->planar_out.get_desc();
      entry->reorder_residual = epilogue_.residual && pd.dst_desc() != entry->planar_residual.get_desc();
      if (entry->reorder_in) {
        entry->source = dnnl::memory(pd.src_desc(), engine);
        entry->to_source = dnnl::reorder(entry->planar_in, entry->source);
      } else {
        entry->source = dnnl::memory(pd.src_desc(), engine, DNNL_MEMORY_NONE);
      }
      if (entry->reorder_out) {
        entry->destination = dnnl::memory(pd.dst_desc(), engine);
        entry->to_planar = dnnl::reorder(entry->destination, entry->planar_out);
      } else {
        entry->destination = dnnl::memory(pd.dst_desc(), engine, DNNL_MEMORY_NONE);
      }
      if (entry->reorder_residual)
        entry->residual_to_destination = dnnl::reorder(entry->planar_residual, entry->destination);
      stream.wait();
      implementation_ = pd.impl_info_str();
      cached = cache_.add(std::move(entry));
    } catch (const dnnl::error& e) {
      throw Error::internal(std::string("oneDNN cannot make the fp32 convolution (") + e.what() +
                            "); SHRINK_ONEDNN_CONV=off runs the hand-written kernels instead");
    }
  }

  // oneDNN reads through non-const handles; it writes only the destination.
  if (cached->reorder_in) {
    cached->planar_in.set_data_handle(const_cast<float*>(x.data()));
    cached->to_source.execute(stream, cached->planar_in, cached->source);
  } else {
    cached->source.set_data_handle(const_cast<float*>(x.data()));
  }
  if (!cached->reorder_out) cached->destination.set_data_handle(y.data());
  if (residual != nullptr) {
    // The sum post-op adds what the destination holds.
    if (cached->reorder_residual) {
      cached->planar_residual.set_data_handle(const_cast<float*>(residual->data()));
      cached->residual_to_destination.execute(stream, cached->planar_residual, cached->destination);
    } else {
      std::copy(residual->data(), residual->data() + residual->numel(),
                static_cast<float*>(cached->destination.get_data_handle()));
    }
  }
  std::unordered_map<int, dnnl::memory> arguments = {{DNNL_ARG_SRC, cached->source},
                                                     {DNNL_ARG_WEIGHTS, cached->weights},
                                                     {DNNL_ARG_DST, cached->destination}};
  if (bias) {
    cached->bias.set_data_handle(const_cast<float*>(bias->effective().data()));
    arguments.emplace(DNNL_ARG_BIAS, cached->bias);
  }
  cached->primitive.execute(stream, arguments);
  if (cached->reorder_out) {
    cached->planar_out.set_data_handle(y.data());
    cached->to_planar.execute(stream, cached->destination, cached->planar_out);
  }
  stream.wait();
}

}  // namespace shrink::kernels
