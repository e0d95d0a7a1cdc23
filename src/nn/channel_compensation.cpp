// The removed channels' mean contribution to a consumer. For a Conv2d the contribution of input
// channel c through tap (kh, kw) at output position (i, j) is w[o, c, kh, kw] × x[c, i·s − p +
// kh·d, j·s − p + kw·d] (zero outside the input); its mean over samples and output positions is
// w times the mean input averaged over the input positions that tap reads. Averaging per tap, not
// per channel, is what makes the border exact in the mean.
#include "nn/channel_compensation.hpp"

#include "shrink/core/error.hpp"

namespace shrink {
namespace {

using Json = nlohmann::json;

std::pair<int64_t, int64_t> pair_of(const Json& attributes, const char* key, int64_t fallback) {
  if (!attributes.contains(key)) return {fallback, fallback};
  const Json& v = attributes[key];
  if (v.is_array()) return {v[0].get<int64_t>(), v[1].get<int64_t>()};
  return {v.get<int64_t>(), v.get<int64_t>()};
}

// The mean of map[r, c] (an h × w plane, zero outside) over the positions one tap reads.
double tap_mean(const float* map, int64_t h, int64_t w, int64_t out_h, int64_t out_w, int64_t stride_h,
                int64_t stride_w, int64_t offset_h, int64_t offset_w) {
  double sum = 0.0;
  for (int64_t i = 0; i < out_h; ++i) {
    const int64_t r = i * stride_h + offset_h;
    if (r < 0 || r >= h) continue;
    for (int64_t j = 0; j < out_w; ++j) {
      const int64_t c = j * stride_w + offset_w;
      if (c >= 0 && c < w) sum += map[r * w + c];
    }
  }
  return sum / static_cast<double>(out_h * out_w);
}

std::vector<double> conv_contribution(const Node& node, const Tensor& weight, const Tensor& mean,
                                      const std::vector<char>& dropped) {
  const Json attributes = node.op->attributes();
  const auto [stride_h, stride_w] = pair_of(attributes, "stride", 1);
  const auto [pad_h, pad_w] = pair_of(attributes, "padding", 0);
  const auto [dilation_h, dilation_w] = pair_of(attributes, "dilation", 1);
  const int64_t outs = weight.dim(0), ins = weight.dim(1), kh = weight.dim(2), kw = weight.dim(3);
  const int64_t h = mean.dim(1), w = mean.dim(2);
  const int64_t out_h = node.output_shape[1], out_w = node.output_shape[2];
  std::vector<double> result(static_cast<size_t>(outs), 0.0);
  for (int64_t c = 0; c < ins; ++c) {
    if (!dropped[static_cast<size_t>(c)]) continue;
    const float* map = mean.data() + c * h * w;
    for (int64_t a = 0; a < kh; ++a)
      for (int64_t b = 0; b < kw; ++b) {
        const double m = tap_mean(map, h, w, out_h, out_w, stride_h, stride_w, a * dilation_h - pad_h,
                                  b * dilation_w - pad_w);
        if (m == 0.0) continue;
        for (int64_t o = 0; o < outs; ++o)
          result[static_cast<size_t>(o)] += static_cast<double>(weight[((o * ins + c) * kh + a) * kw + b]) * m;
      }
  }
  return result;
}

std::vector<double> linear_contribution(const Tensor& weight, const Tensor& mean,
                                        const std::vector<char>& dropped) {
  const int64_t outs = weight.dim(0), ins = weight.dim(1);
  std::vector<double> result(static_cast<size_t>(outs), 0.0);
  for (int64_t c = 0; c < ins; ++c) {
    if (!dropped[static_cast<size_t>(c)] || mean[c] == 0.0f) continue;
    for (int64_t o = 0; o < outs; ++o)
      result[static_cast<size_t>(o)] += static_cast<double>(weight[o * ins + c]) * mean[c];
  }
  return result;
}

}  // namespace

bool compensable(const Node& node, const Shape& input_sample_shape) {
  const std::string type = node.op->type();
  if (type == "Linear") return input_sample_shape.size() == 1;
  if (type == "Conv2d")
    return node.op->attributes().value("groups", int64_t{1}) == 1 && input_sample_shape.size() == 3;
  return false;
}

std::vector<double> dropped_contribution(const Node& node, const Tensor& weight,
                                         const Tensor& input_mean,
                                         const std::vector<char>& dropped) {
  const int64_t channels = input_mean.rank() > 0 ? input_mean.dim(0) : 1;
  if (static_cast<int64_t>(dropped.size()) != channels || weight.rank() < 2 || weight.dim(1) != channels)
    throw Error::internal("channel compensation of node " + node.name + ": the mean input has " +
                          std::to_string(channels) + " channels, the weight " + to_string(weight.shape()));
  if (node.op->type() == "Linear") return linear_contribution(weight, input_mean, dropped);
  return conv_contribution(node, weight, input_mean, dropped);
}

}  // namespace shrink
