#include "nn/kernels/int8_layers.hpp"

#include "nn/kernels/onednn.hpp"
#include "shrink/core/error.hpp"
#include "shrink/nn/affine_quantizer.hpp"

#include <algorithm>
#include <cmath>

namespace shrink::kernels {
namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

dt code_type(bool is_signed) { return is_signed ? dt::s8 : dt::u8; }

// What turns a layer's s32 sums into its output: the per-channel scale input * weight / output
// (output codes, or fp32 when the layer ends the int8 run), the zero points (the source's moved
// by `source_shift` where the caller shifted the codes) and the fused ReLU.
dnnl::primitive_attr requantizing_attributes(const Int8Epilogue& epilogue,
                                             const std::vector<float>& weight_scales,
                                             int32_t source_shift) {
  const ActivationCodes& input = epilogue.input;
  const std::optional<ActivationCodes>& output = epilogue.output;
  std::vector<float> scales(weight_scales.size());
  for (size_t o = 0; o < scales.size(); ++o)
    scales[o] = input.scale * weight_scales[o] / (output ? output->scale : 1.0f);
  dnnl::primitive_attr attributes;
  attributes.set_output_scales(1 << 1, scales);
  if (input.zero_point + source_shift != 0)
    attributes.set_zero_points(DNNL_ARG_SRC, 0, {input.zero_point + source_shift});
  if (output && output->zero_point != 0)
    attributes.set_zero_points(DNNL_ARG_DST, 0, {output->zero_point});
  if (epilogue.relu) {
    dnnl::post_ops post;
    post.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    attributes.set_post_ops(post);
  }
  return attributes;
}

}  // namespace

bool has_int8_weights(const Parameter& weight) {
  const auto* affine = dynamic_cast<const AffineQuantizer*>(weight.quantizer());
  return affine != nullptr && (affine->bits() == 8 || affine->bits() == 7) && affine->symmetric();
}

Int8Weights int8_weights(const Parameter& weight, int64_t out_channels) {
  const auto* affine = dynamic_cast<const AffineQuantizer*>(weight.quantizer());
  if (!has_int8_weights(weight))
    throw Error::internal("int8 layer: weight " + weight.name + " is not 8- or 7-bit symmetric affine");
  const Tensor& values = weight.effective();
  const int64_t n = values.numel(), channels = affine->channels();
  if (!(channels == 1 || (channels == out_channels && n % channels == 0)))
    throw Error::internal("int8 layer: weight " + weight.name + " has " + std::to_string(channels) +
                          " scales for " + std::to_string(out_channels) + " output channels");
  Int8Weights w;
  w.codes.resize(static_cast<size_t>(n));
  w.scales.resize(static_cast<size_t>(out_channels));
  const int64_t per_channel = n / channels;
  for (int64_t c = 0; c < channels; ++c) {
    const float scale = affine->params(c).scale;
    for (int64_t i = c * per_channel; i < (c + 1) * per_channel; ++i)
      w.codes[static_cast<size_t>(i)] = static_cast<int8_t>(std::nearbyint(values[i] / scale));
  }
  for (int64_t o = 0; o < out_channels; ++o)
    w.scales[static_cast<size_t>(o)] = affine->params(channels == 1 ? 0 : o).scale;
  return w;
}

bool splits_weights(const std::vector<int8_t>& codes) {
  if (onednn_has_vnni()) return false;
  return std::any_of(codes.begin(), codes.end(),
                     [](int8_t c) { return c > kSinglePassMaxCode || c < -kSinglePassMaxCode; });
}

bool splits_weights(const Parameter& weight) {
  if (onednn_has_vnni()) return false;  // before reading every code
  const auto* affine = dynamic_cast<const AffineQuantizer*>(weight.quantizer());
  return splits_weights(int8_weights(weight, affine->channels()).codes);
}

void codes_to_bytes(const float* codes, int64_t count, bool is_signed, uint8_t* bytes) {
  if (is_signed)
    for (int64_t i = 0; i < count; ++i)
      bytes[i] = static_cast<uint8_t>(static_cast<int8_t>(static_cast<int32_t>(codes[i])));
  else
    for (int64_t i = 0; i < count; ++i)
      bytes[i] = static_cast<uint8_t>(static_cast<int32_t>(codes[i]));
}

void input_to_bytes(const float* x, int64_t count, const Int8Epilogue& epilogue, uint8_t* bytes) {
  const ActivationCodes& q = epilogue.input;
  if (!epilogue.quantize_input) {
    codes_to_bytes(x, count, q.is_signed, bytes);
    return;
  }
  const float zero = static_cast<float>(q.zero_point);
  const float lowest = q.is_signed ? -128.0f : 0.0f, highest = q.is_signed ? 127.0f : 255.0f;
  for (int64_t i = 0; i < count; ++i) {
    const float code = std::min(std::max(std::nearbyint(x[i] / q.scale) + zero, lowest), highest);
    bytes[i] = static_cast<uint8_t>(static_cast<int32_t>(code));
  }
}

void bytes_to_codes(const uint8_t* bytes, int64_t count, bool is_signed, float* codes) {
  if (is_signed)
    for (int64_t i = 0; i < count; ++i) codes[i] = static_cast<float>(static_cast<int8_t>(bytes[i]));
  else
    for (int64_t i = 0; i < count; ++i) codes[i] = static_cast<float>(bytes[i]);
}

struct Int8Matmul::Cached {
  int64_t batch = 0;
  dnnl::matmul primitive;
  dnnl::memory source, weights, bias, destination;
};

Int8Matmul::Int8Matmul(Int8Epilogue epilogue, bool weight_in_by_out)
    : epilogue_(epilogue), weight_in_by_out_(weight_in_by_out) {}
Int8Matmul::~Int8Matmul() = default;
Int8Matmul::Int8Matmul(Int8Matmul&&) noexcept = default;
Int8Matmul& Int8Matmul::operator=(Int8Matmul&&) noexcept = default;

void Int8Matmul::forward(const Parameter& weight, const Parameter* bias, const Tensor& x, Tensor& y) {
  const int64_t n = x.dim(0), in = x.dim(1);
  const int64_t out = weight_in_by_out_ ? weight.value.dim(0) : weight.value.dim(1);
  const uint64_t weight_version = weight.effective_version();
  const uint64_t bias_version = bias ? bias->effective_version() : 0;
  if (weight_version != weight_version_ || bias_version != bias_version_) cache_.clear();
  if (weight_version != weight_version_ || !split_) split_ = splits_weights(weight);
  const int64_t depth = *split_ ? 2 * in : in;
  weight_version_ = weight_version;
  bias_version_ = bias_version;

  Cached* cached = cache_.find(n);
  dnnl::engine& engine = onednn_engine();
  dnnl::stream& stream = onednn_stream();
  const ActivationCodes& input = epilogue_.input;
  const std::optional<ActivationCodes>& output = epilogue_.output;
  if (cached == nullptr) {
    try {
      const Int8Weights w = int8_weights(weight, out);
      const dnnl::primitive_attr attributes = requantizing_attributes(epilogue_, w.scales, 0);
      const dnnl::memory::desc source_desc({n, depth}, code_type(input.is_signed), tag::ab);
      const dnnl::memory::desc weights_any({depth, out}, dt::s8, tag::any);
      const dnnl::memory::desc bias_desc =
          bias ? dnnl::memory::desc({1, out}, dt::f32, tag::ab) : dnnl::memory::desc();
      const dnnl::memory::desc destination_desc(
          {n, out}, output ? code_type(output->is_signed) : dt::f32, tag::ab);
      const dnnl::matmul::primitive_desc pd(
          dnnl::matmul::desc(source_desc, weights_any, bias_desc, destination_desc), attributes,
          engine);
      auto entry = std::make_unique<Cached>();
      entry->batch = n;
      entry->primitive = dnnl::matmul(pd);
      // The weight as a [depth, out] matrix (Linear's [out, in] read transposed), split in two
      // halves along the depth when split.
      std::vector<int8_t> matrix(static_cast<size_t>(depth * out));
      for (int64_t k = 0; k < in; ++k)
        for (int64_t o = 0; o < out; ++o) {
          const int8_t code = w.codes[static_cast<size_t>(weight_in_by_out_ ? o * in + k : k * out + o)];
          const auto half = static_cast<int8_t>(code / 2);
          if (depth == in) {
            matrix[static_cast<size_t>(k * out + o)] = code;
          } else {
            matrix[static_cast<size_t>(k * out + o)] = static_cast<int8_t>(code - half);
            matrix[static_cast<size_t>((in + k) * out + o)] = half;
          }
        }
      const dnnl::memory::desc user_desc({depth, out}, dt::s8, tag::ab);
      dnnl::memory user(user_desc, engine, matrix.data());
      entry->weights = dnnl::memory(pd.weights_desc(), engine);
      dnnl::reorder(user, entry->weights).execute(stream, user, entry->weights);
      if (bias) {
        entry->bias = dnnl::memory(bias_desc, engine);
        float* b = static_cast<float*>(entry->bias.get_data_handle());
        const Tensor& values = bias->effective();
        for (int64_t o = 0; o < out; ++o)
          b[o] = values[o] / (input.scale * w.scales[static_cast<size_t>(o)]);
      }
      entry->source = dnnl::memory(source_desc, engine, DNNL_MEMORY_NONE);
      entry->destination = dnnl::memory(destination_desc, engine, DNNL_MEMORY_NONE);
      stream.wait();
      implementation_ = pd.impl_info_str();
      cached = cache_.add(std::move(entry));
    } catch (const dnnl::error& e) {
      throw Error::internal(std::string("oneDNN cannot make the int8 matmul (") + e.what() +
                            "); SHRINK_INT8=off runs the fake-quantized fp32 graph instead");
    }
  }

  source_.resize(static_cast<size_t>(n * depth));
  if (depth == in) {
    input_to_bytes(x.data(), n * in, epilogue_, source_.data());
  } else {
    for (int64_t r = 0; r < n; ++r) {
      uint8_t* row = source_.data() + r * depth;
      input_to_bytes(x.data() + r * in, in, epilogue_, row);
      std::copy(row, row + in, row + in);
    }
  }
  cached->source.set_data_handle(source_.data());
  if (output) {
    destination_.resize(static_cast<size_t>(n * out));
    cached->destination.set_data_handle(destination_.data());
  } else {
    cached->destination.set_data_handle(y.data());
  }
  std::unordered_map<int, dnnl::memory> arguments = {{DNNL_ARG_SRC, cached->source},
                                                     {DNNL_ARG_WEIGHTS, cached->weights},
                                                     {DNNL_ARG_DST, cached->destination}};
  if (bias) arguments.emplace(DNNL_ARG_BIAS, cached->bias);
  cached->primitive.execute(stream, arguments);
  stream.wait();
  if (output) bytes_to_codes(destination_.data(), n * out, output->is_signed, y.data());
}

struct Int8Convolution::Cached {
  int64_t batch = 0;
  dnnl::convolution_forward primitive;
  dnnl::memory source, weights, bias, destination;
  // NCHW bytes -> channels-last source (one copy of the channels), destination -> NCHW floats.
  dnnl::reorder to_channels_last, to_planar;
  dnnl::memory planar, channels_last, result;
  dnnl::pooling_forward pooling;  // when a max pooling is fused
  dnnl::memory pooled;
};

Int8Convolution::Int8Convolution(Int8Epilogue epilogue, ConvolutionGeometry geometry,
                                 std::optional<PoolingGeometry> pool)
    : epilogue_(epilogue), geometry_(geometry), pool_(pool) {}
Int8Convolution::~Int8Convolution() = default;
Int8Convolution::Int8Convolution(Int8Convolution&&) noexcept = default;
Int8Convolution& Int8Convolution::operator=(Int8Convolution&&) noexcept = default;

void Int8Convolution::forward(const Parameter& weight, const Parameter* bias, const Tensor& x,
                              Tensor& y) {
  const int64_t n = x.dim(0), channels = x.dim(1), height = x.dim(2), width = x.dim(3);
  const int64_t kh = geometry_.kernel_h, kw = geometry_.kernel_w;
  // The convolution's output size (y is pooled when a pooling is fused).
  const int64_t out = y.dim(1);
  const int64_t out_h = (height + 2 * geometry_.pad_h - geometry_.dilation_h * (kh - 1) - 1) / geometry_.stride_h + 1;
  const int64_t out_w = (width + 2 * geometry_.pad_w - geometry_.dilation_w * (kw - 1) - 1) / geometry_.stride_w + 1;
  const uint64_t weight_version = weight.effective_version();
  const uint64_t bias_version = bias ? bias->effective_version() : 0;
  if (weight_version != weight_version_ || bias_version != bias_version_) cache_.clear();
  if (weight_version != weight_version_ || !split_) split_ = splits_weights(weight);
  const int64_t depth = *split_ ? 2 * channels : channels;
  weight_version_ = weight_version;
  bias_version_ = bias_version;

  const ActivationCodes& input = epilogue_.input;
  const std::optional<ActivationCodes>& output = epilogue_.output;
  const int32_t shift = input.is_signed ? 128 : 0;  // int8 codes go in as uint8
  Cached* cached = cache_.find(n);
  dnnl::engine& engine = onednn_engine();
  dnnl::stream& stream = onednn_stream();
  if (cached == nullptr) {
    try {
      const Int8Weights w = int8_weights(weight, out);
      const dnnl::primitive_attr attributes = requantizing_attributes(epilogue_, w.scales, shift);
      const dnnl::memory::desc source_desc({n, depth, height, width}, dt::u8, tag::nhwc);
      const dnnl::memory::desc weights_any({out, depth, kh, kw}, dt::s8, tag::any);
      const dnnl::memory::desc bias_desc =
          bias ? dnnl::memory::desc({out}, dt::f32, tag::x) : dnnl::memory::desc();
      const dnnl::memory::desc destination_desc(
          {n, out, out_h, out_w}, output ? code_type(output->is_signed) : dt::f32, tag::nhwc);
      // The right padding that gives this output size (oneDNN asks for both sides).
      const int64_t pad_bottom = (out_h - 1) * geometry_.stride_h + (kh - 1) * geometry_.dilation_h + 1 -
                                 height - geometry_.pad_h;
      const int64_t pad_right = (out_w - 1) * geometry_.stride_w + (kw - 1) * geometry_.dilation_w + 1 -
                                width - geometry_.pad_w;
      const dnnl::convolution_forward::primitive_desc pd(
          dnnl::convolution_forward::desc(
              dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, source_desc,
              weights_any, bias_desc, destination_desc, {geometry_.stride_h, geometry_.stride_w},
              {geometry_.dilation_h - 1, geometry_.dilation_w - 1}, {geometry_.pad_h, geometry_.pad_w},
              {pad_bottom, pad_right}),
          attributes, engine);
      auto entry = std::make_unique<Cached>();
      entry->batch = n;
      entry->primitive = dnnl::convolution_forward(pd);
      // OIHW codes, in two halves along the input channels when split.
      const int64_t area = kh * kw;
      std::vector<int8_t> codes(static_cast<size_t>(out * depth * area));
      for (int64_t o = 0; o < out; ++o)
        for (int64_t c = 0; c < channels; ++c)
          for (int64_t k = 0; k < area; ++k) {
            const int8_t code = w.codes[static_cast<size_t>((o * channels + c) * area + k)];
            const auto half = static_cast<int8_t>(code / 2);
            if (depth == channels) {
              codes[static_cast<size_t>((o * depth + c) * area + k)] = code;
            } else {
              codes[static_cast<size_t>((o * depth + c) * area + k)] = static_cast<int8_t>(code - half);
              codes[static_cast<size_t>((o * depth + channels + c) * area + k)] = half;
            }
          }
      dnnl::memory user(dnnl::memory::desc({out, depth, kh, kw}, dt::s8, tag::oihw), engine,
                        codes.data());
      entry->weights = dnnl::memory(pd.weights_desc(), engine);
      dnnl::reorder(user, entry->weights).execute(stream, user, entry->weights);
      if (bias) {
        entry->bias = dnnl::memory(bias_desc, engine);
        float* b = static_cast<float*>(entry->bias.get_data_handle());
        const Tensor& values = bias->effective();
        for (int64_t o = 0; o < out; ++o)
          b[o] = values[o] / (input.scale * w.scales[static_cast<size_t>(o)]);
      }
      entry->source = dnnl::memory(pd.src_desc(), engine, DNNL_MEMORY_NONE);
      entry->destination = dnnl::memory(pd.dst_desc(), engine, DNNL_MEMORY_NONE);
      const dnnl::memory::dims planar_dims = {n, channels, height, width};
      entry->planar = dnnl::memory({planar_dims, dt::u8, tag::nchw}, engine, DNNL_MEMORY_NONE);
      // One copy of the channels inside the channels-last source of `depth` channels.
      const dnnl::memory::desc copy_desc(planar_dims, dt::u8,
                                         dnnl::memory::dims{height * width * depth, 1, width * depth, depth});
      entry->channels_last = dnnl::memory(copy_desc, engine, DNNL_MEMORY_NONE);
      entry->to_channels_last = dnnl::reorder(entry->planar, entry->channels_last);
      entry->result = dnnl::memory({{n, out, y.dim(2), y.dim(3)}, dt::f32, tag::nchw}, engine, DNNL_MEMORY_NONE);
      dnnl::memory* last = &entry->destination;
      if (pool_) {
        const dnnl::memory::desc pooled_desc({n, out, y.dim(2), y.dim(3)}, pd.dst_desc().data_type(), tag::nhwc);
        const dnnl::pooling_forward::primitive_desc pool_pd(
            dnnl::pooling_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::pooling_max,
                                        pd.dst_desc(), pooled_desc, {pool_->stride_h, pool_->stride_w},
                                        {pool_->kernel_h, pool_->kernel_w}, {pool_->pad_top, pool_->pad_left},
                                        {(y.dim(2) - 1) * pool_->stride_h + pool_->kernel_h - out_h - pool_->pad_top,
                                         (y.dim(3) - 1) * pool_->stride_w + pool_->kernel_w - out_w - pool_->pad_left}),
            engine);
        entry->pooling = dnnl::pooling_forward(pool_pd);
        entry->pooled = dnnl::memory(pool_pd.dst_desc(), engine, DNNL_MEMORY_NONE);
        last = &entry->pooled;
      }
      entry->to_planar = dnnl::reorder(*last, entry->result);
      stream.wait();
      implementation_ = pd.impl_info_str();
      cached = cache_.add(std::move(entry));
    } catch (const dnnl::error& e) {
      throw Error::internal(std::string("oneDNN cannot make the int8 convolution (") + e.what() +
                            "); SHRINK_INT8=off runs the fake-quantized fp32 graph instead");
    }
  }

  // NCHW codes -> NCHW bytes (int8 codes + 128 as uint8: flipping the top bit) -> oneDNN's
  // reorder into channels-last, twice (at channel offsets 0 and C) when split.
  const int64_t plane = height * width;
  planar_.resize(static_cast<size_t>(n * channels * plane));
  input_to_bytes(x.data(), n * channels * plane, epilogue_, planar_.data());
  if (shift != 0)
    for (uint8_t& byte : planar_) byte ^= 0x80;
  source_.resize(static_cast<size_t>(n * plane * depth));
  cached->planar.set_data_handle(planar_.data());
  for (int half = 0; half < (depth == channels ? 1 : 2); ++half) {
    cached->channels_last.set_data_handle(source_.data() + half * channels);
    cached->to_channels_last.execute(stream, cached->planar, cached->channels_last);
  }
  cached->source.set_data_handle(source_.data());
  const int64_t out_plane = out_h * out_w;
  destination_.resize(static_cast<size_t>(n * out_plane * out * (output ? 1 : 4)));
  cached->destination.set_data_handle(destination_.data());
  std::unordered_map<int, dnnl::memory> arguments = {{DNNL_ARG_SRC, cached->source},
                                                     {DNNL_ARG_WEIGHTS, cached->weights},
                                                     {DNNL_ARG_DST, cached->destination}};
  if (bias) arguments.emplace(DNNL_ARG_BIAS, cached->bias);
  cached->primitive.execute(stream, arguments);
  dnnl::memory* last = &cached->destination;
  if (pool_) {
    pooled_.resize(static_cast<size_t>(y.numel()) * (output ? 1 : 4));
    cached->pooled.set_data_handle(pooled_.data());
    cached->pooling.execute(stream, {{DNNL_ARG_SRC, cached->destination}, {DNNL_ARG_DST, cached->pooled}});
    last = &cached->pooled;
  }
  // Channels-last codes or values -> NCHW floats.
  cached->result.set_data_handle(y.data());
  cached->to_planar.execute(stream, *last, cached->result);
  stream.wait();
}

}  // namespace shrink::kernels
