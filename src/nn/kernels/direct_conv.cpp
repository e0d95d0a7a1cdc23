#include "nn/kernels/direct_conv.hpp"

#include "shrink/core/error.hpp"

#include <algorithm>
#include <limits>

namespace shrink::kernels {
namespace {

using Packet = Eigen::internal::packet_traits<float>::type;
constexpr int kLanes = Eigen::internal::packet_traits<float>::size;
// Output channels are taken up to kMaxVectors vectors at a time (64 with AVX-512).
constexpr int kMaxVectors = 4;

// Pixels per register tile for a tile `vectors` wide: as many accumulators as leave room for
// the weight vectors and one broadcast (32 vector registers with AVX-512, 16 without).
constexpr int tile_pixels(int vectors) {
  constexpr int accumulators = kLanes >= 16 ? 24 : 12;
  return std::min(12, accumulators / vectors);
}

// One tile: `count` (<= Pixels) output pixels starting at `pixel` x `Vectors` vectors of
// output channels starting at `channel`, summed over every tap, plus bias, written into y.
template <int Vectors>
void run_tile(const float* image, const int32_t* taps, int64_t tap_count,
              const int32_t* pixel_offsets, int64_t pixel, int64_t count, const float* weights,
              const float* bias, int64_t channel, int64_t channels, int64_t pixels, float* y) {
  constexpr int Pixels = tile_pixels(Vectors);
  const float* source[Pixels];
  // A short last tile repeats its first pixel; the extra results are not stored.
  for (int t = 0; t < Pixels; ++t) source[t] = image + pixel_offsets[pixel + (t < count ? t : 0)];

  Packet acc[Pixels][Vectors];
  for (auto& row : acc)
    for (auto& a : row) a = Eigen::internal::pset1<Packet>(0.0f);
  for (int64_t k = 0; k < tap_count; ++k) {
    const int32_t offset = taps[k];
    Packet w[Vectors];
    for (int v = 0; v < Vectors; ++v)
      w[v] = Eigen::internal::pload<Packet>(weights + (k * Vectors + v) * kLanes);
    for (int t = 0; t < Pixels; ++t) {
      const Packet x = Eigen::internal::pset1<Packet>(source[t][offset]);
      for (int v = 0; v < Vectors; ++v) acc[t][v] = Eigen::internal::pmadd(x, w[v], acc[t][v]);
    }
  }

  // The tile holds pixels x channels; y is channels x pixels.
  alignas(64) float tile[Pixels][Vectors * kLanes];
  for (int t = 0; t < Pixels; ++t)
    for (int v = 0; v < Vectors; ++v) Eigen::internal::pstore(&tile[t][v * kLanes], acc[t][v]);
  const int64_t real = std::min<int64_t>(Vectors * kLanes, channels - channel);
  for (int64_t c = 0; c < real; ++c) {
    const float b = bias ? bias[channel + c] : 0.0f;
    float* out = y + (channel + c) * pixels + pixel;
    for (int64_t t = 0; t < count; ++t) out[t] = tile[t][c] + b;
  }
}

template <int Vectors>
void run_block(const float* image, const int32_t* taps, int64_t tap_count,
               const int32_t* pixel_offsets, int64_t pixels, const float* weights,
               const float* bias, int64_t channel, int64_t channels, float* y) {
  constexpr int Pixels = tile_pixels(Vectors);
  for (int64_t p = 0; p < pixels; p += Pixels)
    run_tile<Vectors>(image, taps, tap_count, pixel_offsets, p, std::min<int64_t>(Pixels, pixels - p),
                      weights, bias, channel, channels, pixels, y);
}

int64_t vectors_for(int64_t channels) { return (channels + kLanes - 1) / kLanes; }

}  // namespace

bool DirectConv::pays_off(int64_t taps, int64_t out_channels) {
  const int64_t padded = vectors_for(out_channels) * kLanes;
  return taps >= 64 && 4 * out_channels >= 3 * padded;
}

DirectConv::DirectConv(const Conv2dGeometry& g, int64_t out_channels)
    : g_(g), out_channels_(out_channels), taps_(g.column_rows()), pixels_(g.column_cols()),
      padded_h_(g.height + 2 * g.pad_h), padded_w_(g.width + 2 * g.pad_w) {
  require(g.channels * padded_h_ * padded_w_ < std::numeric_limits<int32_t>::max(),
          "Conv2d: an input plane stack of " + std::to_string(g.channels * padded_h_ * padded_w_) +
              " values is too large for the direct kernel");
  tap_offsets_.reserve(static_cast<size_t>(taps_));
  for (int64_t c = 0; c < g.channels; ++c)
    for (int64_t ki = 0; ki < g.kernel_h; ++ki)
      for (int64_t kj = 0; kj < g.kernel_w; ++kj)
        tap_offsets_.push_back(static_cast<int32_t>((c * padded_h_ + ki * g.dilation_h) * padded_w_ +
                                                    kj * g.dilation_w));
  pixel_offsets_.reserve(static_cast<size_t>(pixels_));
  for (int64_t y = 0; y < g.out_h(); ++y)
    for (int64_t x = 0; x < g.out_w(); ++x)
      pixel_offsets_.push_back(static_cast<int32_t>(y * g.stride_h * padded_w_ + x * g.stride_w));
}

// Blocks of kMaxVectors vectors of output channels, then one narrower block for the rest; in
// each block, tap k of its channels is contiguous (zero beyond the last real channel).
void DirectConv::pack_weights(const float* weights) {
  const int64_t vectors = vectors_for(out_channels_);
  packed_.assign(static_cast<size_t>(vectors * kLanes * taps_), 0.0f);
  float* dst = packed_.data();
  for (int64_t first = 0; first < vectors; first += kMaxVectors) {
    const int64_t width = std::min<int64_t>(kMaxVectors, vectors - first) * kLanes;
    for (int64_t k = 0; k < taps_; ++k)
      for (int64_t c = 0; c < width; ++c) {
        const int64_t channel = first * kLanes + c;
        dst[k * width + c] = channel < out_channels_ ? weights[channel * taps_ + k] : 0.0f;
      }
    dst += width * taps_;
  }
}

int64_t DirectConv::scratch_floats() const {
  const bool padded = g_.pad_h > 0 || g_.pad_w > 0;
  return padded ? g_.channels * padded_h_ * padded_w_ : 0;
}

const float* DirectConv::padded_image(const float* image, float* scratch) const {
  if (scratch_floats() == 0) return image;
  std::fill(scratch, scratch + scratch_floats(), 0.0f);
  for (int64_t c = 0; c < g_.channels; ++c)
    for (int64_t y = 0; y < g_.height; ++y) {
      const float* src = image + (c * g_.height + y) * g_.width;
      std::copy(src, src + g_.width,
                scratch + (c * padded_h_ + y + g_.pad_h) * padded_w_ + g_.pad_w);
    }
  return scratch;
}

void DirectConv::run(const float* image, const float* bias, float* scratch, float* y) const {
  require(!packed_.empty(), "DirectConv::run needs pack_weights first");
  const float* input = padded_image(image, scratch);
  const int64_t vectors = vectors_for(out_channels_);
  const float* weights = packed_.data();
  for (int64_t first = 0; first < vectors; first += kMaxVectors) {
    const int64_t block = std::min<int64_t>(kMaxVectors, vectors - first);
    const int64_t channel = first * kLanes;
    const auto args = [&](auto run) {
      run(input, tap_offsets_.data(), taps_, pixel_offsets_.data(), pixels_, weights, bias,
          channel, out_channels_, y);
    };
    switch (block) {
      case 1: args(run_block<1>); break;
      case 2: args(run_block<2>); break;
      case 3: args(run_block<3>); break;
      default: args(run_block<kMaxVectors>); break;
    }
    weights += block * kLanes * taps_;
  }
}

}  // namespace shrink::kernels
