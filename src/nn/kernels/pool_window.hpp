#pragma once
// The windows of the pooling ops along one axis: kernel, stride, dilation, padding before and
// after (ONNX allows the two to differ, as auto_pad SAME_UPPER/SAME_LOWER make them) and
// ceil_mode, with the output size rule PyTorch and ONNX Runtime share.
#include "nn/kernels/attributes.hpp"
#include "shrink/core/tensor.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

namespace shrink::kernels {

struct PoolAxis {
  int64_t kernel = 1, stride = 1, dilation = 1, pad_begin = 0, pad_end = 0;
  bool ceil_mode = false;

  int64_t extent() const { return dilation * (kernel - 1) + 1; }

  // floor (or ceil) of (in + pads - extent) / stride, plus one; with ceil_mode a last window
  // that would start in the end padding is dropped, so every window starts inside the input or
  // its begin padding.
  int64_t output_size(int64_t in) const {
    const int64_t room = in + pad_begin + pad_end - extent();
    if (room < 0) return 0;
    int64_t out = (ceil_mode ? (room + stride - 1) / stride : room / stride) + 1;
    if (ceil_mode && (out - 1) * stride >= in + pad_begin) --out;
    return out;
  }

  // The taps of output `o` that fall on real input positions: first, first + dilation, ...
  // (`count` of them).
  struct Taps {
    int64_t first, count;
  };
  Taps taps(int64_t o, int64_t in) const {
    const int64_t start = o * stride - pad_begin;
    // The first tap j with start + j * dilation >= 0, and one past the last below `in`.
    const int64_t j0 = start >= 0 ? 0 : (-start + dilation - 1) / dilation;
    const int64_t j1 = start >= in ? 0 : std::min(kernel, (in - 1 - start) / dilation + 1);
    return {start + j0 * dilation, std::max<int64_t>(0, j1 - j0)};
  }

  // The taps of output `o` inside the padded input [-pad_begin, in + pad_end): what
  // count_include_pad divides by (the part of a ceil_mode window past the padding does not count).
  int64_t padded_count(int64_t o, int64_t in) const {
    const int64_t start = o * stride - pad_begin;
    return std::min(start + kernel, in + pad_end) - start;  // dilation 1: average pools
  }

  // Whether every window of an input of size `in` holds at least one real position. Windows
  // start before the input's end (output_size sees to that, the end padding being smaller than
  // the extent), so only those starting in the begin padding can miss it; without dilation they
  // cannot (the begin padding is smaller than the kernel), nor when the taps' step is no wider
  // than the input.
  bool every_window_real(int64_t in) const {
    if (dilation == 1 || in >= dilation) return true;
    const int64_t out = output_size(in);
    for (int64_t o = 0; o < out && o * stride < pad_begin; ++o)
      if (taps(o, in).count == 0) return false;
    return true;
  }
};

// The pools' padding: "padding" ([h, w] or an int) is the padding before each axis and
// "padding_end" (the same form, default: "padding") the padding after it.
inline std::array<PoolAxis, 2> read_pool_axes(const nlohmann::json& attributes, const std::string& op,
                                              bool with_dilation) {
  const Pair kernel = read_pair(attributes, op, "kernel_size", std::nullopt, 1);
  const Pair stride = read_pair(attributes, op, "stride", kernel, 1);
  const Pair begin = read_pair(attributes, op, "padding", Pair{0, 0}, 0);
  const Pair end = read_pair(attributes, op, "padding_end", begin, 0);
  const Pair dilation = with_dilation ? read_pair(attributes, op, "dilation", Pair{1, 1}, 1) : Pair{1, 1};
  const bool ceil_mode = read_bool(attributes, op, "ceil_mode", false);
  std::array<PoolAxis, 2> axes;
  for (size_t i = 0; i < 2; ++i) {
    axes[i] = {kernel[i], stride[i], dilation[i], begin[i], end[i], ceil_mode};
    // A padding as wide as the window would make windows of padding alone.
    if (!(begin[i] < axes[i].extent() && end[i] < axes[i].extent()))
      throw Error::bad_input(op + ": padding " + to_string({begin[0], begin[1]}) + " before and " +
                             to_string({end[0], end[1]}) + " after must be smaller than the " +
                             "kernel " + to_string({kernel[0], kernel[1]}) +
                             (with_dilation ? " (dilated)" : ""));
  }
  return axes;
}

// The attributes that round-trip through read_pool_axes; the optional ones only when they differ
// from their default, so a plain pool keeps the attributes it always had.
inline nlohmann::json pool_axes_json(const std::array<PoolAxis, 2>& a, bool with_dilation) {
  nlohmann::json j = {{"kernel_size", pair_json({a[0].kernel, a[1].kernel})},
                      {"stride", pair_json({a[0].stride, a[1].stride})},
                      {"padding", pair_json({a[0].pad_begin, a[1].pad_begin})}};
  if (a[0].pad_end != a[0].pad_begin || a[1].pad_end != a[1].pad_begin)
    j["padding_end"] = pair_json({a[0].pad_end, a[1].pad_end});
  if (with_dilation && (a[0].dilation != 1 || a[1].dilation != 1))
    j["dilation"] = pair_json({a[0].dilation, a[1].dilation});
  if (a[0].ceil_mode) j["ceil_mode"] = true;
  return j;
}

}  // namespace shrink::kernels
