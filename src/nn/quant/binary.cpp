// binary: one bit per weight. w becomes alpha * sign(w) (sign(0) = +1), with
//   scale "channel": alpha = mean |w| of the weight's output channel (XNOR-Net, Rastegari et
//                    al. 2016), the default;
//   scale "tensor":  one alpha = mean |w| for the whole weight;
//   scale "none":    alpha = 1, BinaryConnect's +-1 (Courbariaux et al. 2015).
// Means leave pruned weights out. Code 0 is +alpha, code 1 is -alpha. Gradients pass straight
// through where |w| <= 1 and are zero beyond (the sign's clipped straight-through estimator of
// both papers); alpha's own dependence on w is not differentiated.
#include "nn/quant/quant_support.hpp"

#include <algorithm>
#include <cmath>

namespace shrink {
namespace {

enum class Scale : uint8_t { None = 0, Tensor = 1, Channel = 2 };

const char* scale_name(Scale scale) {
  switch (scale) {
    case Scale::None: return "none";
    case Scale::Tensor: return "tensor";
    case Scale::Channel: return "channel";
  }
  return "channel";
}

class BinaryQuantizer final : public Quantizer {
 public:
  BinaryQuantizer(const Shape& shape, Scale scale)
      : scale_(scale), channels_(shape, scale == Scale::Channel),
        alpha_(static_cast<size_t>(channels_.channels), 1.0f) {}

  const QuantizerFormat& format() const override { return kBinaryFormat; }
  std::unique_ptr<Quantizer> clone() const override { return std::make_unique<BinaryQuantizer>(*this); }
  nlohmann::json options() const override { return {{"scale", scale_name(scale_)}}; }
  int bits() const override { return 1; }

  void follow(const Tensor& latent, const Tensor& mask) override {
    if (scale_ == Scale::None) return;
    for (int64_t c = 0; c < channels_.channels; ++c)
      alpha_[static_cast<size_t>(c)] = quant::mean_abs(latent, mask, channels_.begin(c), channels_.end(c));
  }

  void fake_quantize(const Tensor& latent, Tensor& effective) const override {
    for (int64_t c = 0; c < channels_.channels; ++c) {
      const float alpha = alpha_[static_cast<size_t>(c)];
      for (int64_t i = channels_.begin(c); i < channels_.end(c); ++i)
        effective[i] = latent[i] < 0.0f ? -alpha : alpha;
    }
  }

  void backward(const Tensor& latent, Tensor& grad) override {
    for (int64_t i = 0; i < latent.numel(); ++i)
      if (std::abs(latent[i]) > 1.0f) grad[i] = 0.0f;
  }

  void encode(const Tensor& effective, std::span<uint32_t> codes) const override {
    for (int64_t i = 0; i < effective.numel(); ++i)
      codes[static_cast<size_t>(i)] = std::signbit(effective[i]) ? 1u : 0u;
  }

  void decode(std::span<const uint32_t> codes, Tensor& values) const override {
    for (int64_t c = 0; c < channels_.channels; ++c) {
      const float alpha = alpha_[static_cast<size_t>(c)];
      for (int64_t i = channels_.begin(c); i < channels_.end(c); ++i)
        values[i] = codes[static_cast<size_t>(i)] ? -alpha : alpha;
    }
  }

  void write_state(std::string& out) const override {
    bytes::put_u8(out, static_cast<uint8_t>(scale_));
    if (scale_ == Scale::None) return;
    bytes::put_u32(out, static_cast<uint32_t>(alpha_.size()));
    for (float alpha : alpha_) bytes::put_f32(out, alpha);
  }

  static std::unique_ptr<Quantizer> make(const nlohmann::json& json, const Tensor& weight) {
    JsonOptions options = quant::quantizer_options("binary", json);
    const std::string scale = options.get<std::string>("scale", "channel");
    options.finish();
    for (Scale s : {Scale::None, Scale::Tensor, Scale::Channel})
      if (scale == scale_name(s)) return std::make_unique<BinaryQuantizer>(weight.shape(), s);
    throw Error::bad_input("quantizer binary: scale must be 'channel' (XNOR-Net), 'tensor' or "
                           "'none' (BinaryConnect), got '" + scale + "'");
  }

  static std::unique_ptr<Quantizer> read_state(std::string_view state, const Shape& shape) {
    bytes::Reader in = quant::state_reader(state, "binary");
    const uint8_t scale = in.u8("scale kind");
    require(scale <= static_cast<uint8_t>(Scale::Channel),
            "binary state has an unknown scale kind " + std::to_string(scale));
    auto quantizer = std::make_unique<BinaryQuantizer>(shape, static_cast<Scale>(scale));
    if (quantizer->scale_ != Scale::None) {
      const int64_t channels =
          quant::read_channels(in, shape, quantizer->scale_ == Scale::Channel).channels;
      for (int64_t c = 0; c < channels; ++c)
        quantizer->alpha_[static_cast<size_t>(c)] = quant::read_non_negative(in, "scale");
    }
    in.finish();
    return quantizer;
  }

 private:
  Scale scale_;
  quant::Channels channels_;
  std::vector<float> alpha_;  // per channel; 1 for scale "none"
};

}  // namespace

const QuantizerFormat kBinaryFormat = {
    "binary", "1 bit: alpha * sign(w), alpha per channel (XNOR-Net), per tensor or 1 (BinaryConnect)",
    BinaryQuantizer::make, BinaryQuantizer::read_state};

}  // namespace shrink
