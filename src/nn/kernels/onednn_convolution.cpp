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

// Batch sizes whose primitives stay cached (a full batch, the last partial one, batch 1...).
constexpr size_t kCachedBatches = 4;

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

}  // namespace

bool onednn_convolutions_enabled() {
  static const bool enabled = auto_or_off("SHRINK_ONEDNN_CONV", "a oneDNN convolution");
  return enabled;
}

struct Fp32Convolution::Cached {
  int64_t batch = 0;
  dnnl::convolution_forward primitive;
  dnnl::memory source, weights, bias, destination;
  // The caller's NCHW tensors where they are not channels-last, reordered at the boundary.
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

  Cached* cached = nullptr;
  for (auto& entry : cache_)
    if (entry->batch == n) cached = entry.get();
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
      const dnnl::convolution_forward::primitive_desc pd(
          dnnl::convolution_forward::desc(
              dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
              dnnl::memory::desc(source_dims, dt::f32, tag::nhwc),
              dnnl::memory::desc(weight_dims, dt::f32, tag::any), bias_desc,
              dnnl::memory::desc(destination_dims, dt::f32, tag::nhwc), {g.stride_h, g.stride_w},
              {g.dilation_h - 1, g.dilation_w - 1}, {g.pad_h, g.pad_w}, {pad_bottom, pad_right}),
          epilogue_attributes(epilogue_), engine);
      auto entry = std::make_unique<Cached>();
      entry->batch = n;
      entry->primitive = dnnl::convolution_forward(pd);

      dnnl::memory user_weights(
          dnnl::memory::desc(weight_dims, dt::f32, g.groups == 1 ? tag::oihw : tag::goihw), engine,
          folded_.data());
      entry->weights = dnnl::memory(pd.weights_desc(), engine);
      dnnl::reorder(user_weights, entry->weights).execute(stream, user_weights, entry->weights);
      if (bias) entry->bias = dnnl::memory(bias_desc, engine, DNNL_MEMORY_NONE);

      // The primitive runs on channels-last tensors; an NCHW one is reordered from or into the
      // caller's tensor (one channel is the same bytes in either layout).
      entry->planar_in = dnnl::memory({source_dims, dt::f32, tag::nchw}, engine, DNNL_MEMORY_NONE);
      entry->planar_out = dnnl::memory({destination_dims, dt::f32, tag::nchw}, engine, DNNL_MEMORY_NONE);
      entry->reorder_in = !layouts_.input_channels_last && channels > 1;
      entry->reorder_out = !layouts_.output_channels_last && out > 1;
      entry->reorder_residual = epilogue_.residual && !layouts_.residual_channels_last && out > 1;
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
      if (entry->reorder_residual) {
        entry->planar_residual = dnnl::memory({destination_dims, dt::f32, tag::nchw}, engine, DNNL_MEMORY_NONE);
        entry->residual_to_destination = dnnl::reorder(entry->planar_residual, entry->destination);
      }
      stream.wait();
      implementation_ = pd.impl_info_str();
      if (cache_.size() == kCachedBatches) cache_.erase(cache_.begin());
      cache_.push_back(std::move(entry));
      cached = cache_.back().get();
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
    // The sum post-op adds what the (channels-last) destination holds.
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
