// ternary: two bits per weight, three levels. Code 0 is zero, code 1 the positive level, code 2
// the negative one.
//   method "twn" (Li et al. 2016, Ternary Weight Networks): threshold delta = t * mean |w|
//     (t = 0.7), alpha = mean |w| over the weights beyond delta; w becomes alpha * sign(w) when
//     |w| > delta, else 0. Per tensor, or per output channel. Gradients pass straight through.
//   method "ttq" (Zhu et al. 2017, Trained Ternary Quantization): delta = t * max |w| (t = 0.05);
//     w becomes +wp beyond delta, -wn below -delta, else 0, where wp and wn are trained: their
//     gradients are the sums of the effective weight's gradient over their weights (with a minus
//     sign for wn), and the latent weight gets wp * g, g or wn * g in the three regions. wp and
//     wn start at the mean magnitude of their weights.
// Statistics leave pruned weights out. delta follows the latent weight as it trains.
#include "nn/quant/quant_support.hpp"
#include "shrink/nn/parameter.hpp"

#include <algorithm>
#include <cmath>

namespace shrink {
namespace {

enum class Method : uint8_t { Twn = 0, Ttq = 1 };
constexpr uint8_t kPerChannelFlag = 1;

class TernaryQuantizer final : public Quantizer {
 public:
  TernaryQuantizer(const Shape& shape, Method method, float threshold, bool per_channel)
      : method_(method), threshold_(threshold), per_channel_(per_channel),
        channels_(shape, per_channel), delta_(static_cast<size_t>(channels_.channels), 0.0f),
        alpha_(static_cast<size_t>(channels_.channels), 0.0f) {
    for (auto [p, name] : {std::pair{&positive_, "ttq_positive"}, {&negative_, "ttq_negative"}}) {
      p->name = name;
      p->value = Tensor({1});
      p->grad = Tensor({1});
    }
  }

  const QuantizerFormat& format() const override { return kTernaryFormat; }
  std::unique_ptr<Quantizer> clone() const override { return std::make_unique<TernaryQuantizer>(*this); }
  nlohmann::json options() const override {
    nlohmann::json o = {{"method", method_ == Method::Twn ? "twn" : "ttq"}, {"threshold", threshold_}};
    if (method_ == Method::Twn) o["per_channel"] = per_channel_;
    return o;
  }
  int bits() const override { return 2; }

  void follow(const Tensor& latent, const Tensor& mask) override {
    for (int64_t c = 0; c < channels_.channels; ++c) {
      const int64_t begin = channels_.begin(c), end = channels_.end(c);
      float& delta = delta_[static_cast<size_t>(c)];
      if (method_ == Method::Twn) {
        delta = threshold_ * quant::mean_abs(latent, mask, begin, end);
        double sum = 0.0;
        int64_t count = 0;
        for (int64_t i = begin; i < end; ++i)
          if (quant::counts(mask, i) && std::abs(latent[i]) > delta) {
            sum += std::abs(latent[i]);
            ++count;
          }
        alpha_[static_cast<size_t>(c)] = count ? static_cast<float>(sum / static_cast<double>(count)) : 0.0f;
      } else {
        float largest = 0.0f;
        for (int64_t i = begin; i < end; ++i)
          if (quant::counts(mask, i)) largest = std::max(largest, std::abs(latent[i]));
        delta = threshold_ * largest;
      }
    }
  }

  // TTQ's scales start at the mean magnitude of the weights beyond the threshold.
  void initialise_scales(const Tensor& weight) {
    follow(weight, Tensor());
    double sums[2] = {0.0, 0.0};
    int64_t counts[2] = {0, 0};
    for (int64_t i = 0; i < weight.numel(); ++i) {
      if (std::abs(weight[i]) <= delta_[0]) continue;
      const int side = weight[i] > 0.0f ? 0 : 1;
      sums[side] += std::abs(weight[i]);
      ++counts[side];
    }
    positive_.value[0] = counts[0] ? static_cast<float>(sums[0] / static_cast<double>(counts[0])) : 0.0f;
    negative_.value[0] = counts[1] ? static_cast<float>(sums[1] / static_cast<double>(counts[1])) : 0.0f;
  }

  void fake_quantize(const Tensor& latent, Tensor& effective) const override {
    for (int64_t c = 0; c < channels_.channels; ++c) {
      const float delta = delta_[static_cast<size_t>(c)];
      const float up = positive_level(c), down = -negative_level(c);
      for (int64_t i = channels_.begin(c); i < channels_.end(c); ++i)
        effective[i] = latent[i] > delta ? up : latent[i] < -delta ? down : 0.0f;
    }
  }

  void backward(const Tensor& latent, Tensor& grad) override {
    if (method_ == Method::Twn) return;  // straight through
    const float delta = delta_[0];
    float up = 0.0f, down = 0.0f;
    for (int64_t i = 0; i < latent.numel(); ++i) {
      if (latent[i] > delta) {
        up += grad[i];
        grad[i] *= positive_.value[0];
      } else if (latent[i] < -delta) {
        down -= grad[i];
        grad[i] *= negative_.value[0];
      }
    }
    positive_.grad[0] += up;
    negative_.grad[0] += down;
  }

  std::vector<Parameter*> state_parameters() override {
    if (method_ == Method::Twn) return {};
    return {&positive_, &negative_};
  }

  void encode(const Tensor& effective, std::span<uint32_t> codes) const override {
    for (int64_t i = 0; i < effective.numel(); ++i)
      codes[static_cast<size_t>(i)] = effective[i] > 0.0f ? 1u : effective[i] < 0.0f ? 2u : 0u;
  }

  void decode(std::span<const uint32_t> codes, Tensor& values) const override {
    for (int64_t c = 0; c < channels_.channels; ++c)
      for (int64_t i = channels_.begin(c); i < channels_.end(c); ++i) {
        const uint32_t code = codes[static_cast<size_t>(i)];
        quant::require_code(code, 2, "ternary");
        values[i] = code == 1 ? positive_level(c) : code == 2 ? -negative_level(c) : 0.0f;
      }
  }

  void write_state(std::string& out) const override {
    bytes::put_u8(out, static_cast<uint8_t>(method_));
    bytes::put_u8(out, per_channel_ ? kPerChannelFlag : 0);
    bytes::put_f32(out, threshold_);
    if (method_ == Method::Ttq) {
      bytes::put_f32(out, positive_.value[0]);
      bytes::put_f32(out, negative_.value[0]);
      return;
    }
    bytes::put_u32(out, static_cast<uint32_t>(alpha_.size()));
    for (float alpha : alpha_) bytes::put_f32(out, alpha);
  }

  static std::unique_ptr<Quantizer> make(const nlohmann::json& json, const Tensor& weight) {
    JsonOptions options = quant::quantizer_options("ternary", json);
    const std::string method = options.get<std::string>("method", "twn");
    require(method == "twn" || method == "ttq",
            "quantizer ternary: method must be 'twn' (Ternary Weight Networks) or 'ttq' "
            "(Trained Ternary Quantization), got '" + method + "'");
    const Method m = method == "twn" ? Method::Twn : Method::Ttq;
    const float threshold = options.get<float>("threshold", m == Method::Twn ? 0.7f : 0.05f);
    const bool per_channel = options.get<bool>("per_channel", false);
    options.finish();
    require(std::isfinite(threshold) && threshold >= 0.0f && threshold < (m == Method::Twn ? 2.0f : 1.0f),
            "quantizer ternary: threshold must lie in [0, " + std::string(m == Method::Twn ? "2" : "1") +
                "), got " + std::to_string(threshold));
    require(!(per_channel && m == Method::Ttq),
            "quantizer ternary: ttq trains one pair of scales per layer; per_channel is for twn");
    auto quantizer = std::make_unique<TernaryQuantizer>(weight.shape(), m, threshold, per_channel);
    if (m == Method::Ttq) quantizer->initialise_scales(weight);
    return quantizer;
  }

  static std::unique_ptr<Quantizer> read_state(std::string_view state, const Shape& shape) {
    bytes::Reader in = quant::state_reader(state, "ternary");
    const uint8_t method = in.u8("method");
    require(method <= static_cast<uint8_t>(Method::Ttq),
            "ternary state has an unknown method " + std::to_string(method));
    const uint8_t flags = in.u8("flags");
    require((flags & ~kPerChannelFlag) == 0, "ternary state has unknown flags " + std::to_string(flags));
    const float threshold = quant::read_non_negative(in, "threshold");
    auto quantizer = std::make_unique<TernaryQuantizer>(shape, static_cast<Method>(method), threshold,
                                                        flags & kPerChannelFlag);
    if (quantizer->method_ == Method::Ttq) {
      quantizer->positive_.value[0] = quant::read_non_negative(in, "positive scale");
      quantizer->negative_.value[0] = quant::read_non_negative(in, "negative scale");
    } else {
      const int64_t channels = quant::read_channels(in, shape, quantizer->per_channel_).channels;
      for (int64_t c = 0; c < channels; ++c)
        quantizer->alpha_[static_cast<size_t>(c)] = quant::read_non_negative(in, "scale");
    }
    in.finish();
    return quantizer;
  }

 private:
  float positive_level(int64_t c) const {
    return method_ == Method::Ttq ? positive_.value[0] : alpha_[static_cast<size_t>(c)];
  }
  float negative_level(int64_t c) const {
    return method_ == Method::Ttq ? negative_.value[0] : alpha_[static_cast<size_t>(c)];
  }

  Method method_;
  float threshold_;
  bool per_channel_;
  quant::Channels channels_;
  std::vector<float> delta_;  // per channel
  std::vector<float> alpha_;  // TWN's level per channel
  Parameter positive_, negative_;  // TTQ's trained scales wp and wn
};

}  // namespace

const QuantizerFormat kTernaryFormat = {
    "ternary", "2 bits: 0 or +-alpha (TWN) or 0, +wp, -wn with trained scales (TTQ)",
    TernaryQuantizer::make, TernaryQuantizer::read_state};

}  // namespace shrink
