#pragma once
// Window attributes shared by the convolution and pooling importers: kernel, stride, dilation
// and padding, validated before any arithmetic uses them.
#include "io/onnx/importer.hpp"

#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

namespace shrink::onnx_io {

// Window attributes (kernel, stride, dilation, padding) are validated against this before the
// padding and ceil_mode arithmetic divides by a stride or multiplies a kernel by a dilation: a
// crafted 0 must be an error, not a SIGFPE, and a crafted 2^62 not an overflow.
constexpr int64_t kMaxWindowAttribute = std::numeric_limits<int32_t>::max();

// An attribute with one value per spatial axis (`rank` of them), each between `minimum` and
// kMaxWindowAttribute; `fallback` fills them when the attribute is absent, and an absent
// attribute without one is an error.
std::vector<int64_t> window_attribute(const Attributes& attrs, const char* name, size_t rank,
                                      std::optional<int64_t> fallback, int64_t minimum);

// A 2-D attribute (two values between `minimum` and kMaxWindowAttribute); `fallback` fills both
// when the attribute is absent, and an absent attribute without one is an error.
std::array<int64_t, 2> pair_attribute(const Attributes& attrs, const char* name,
                                      std::optional<int64_t> fallback, int64_t minimum);

inline Json pair_json(const std::array<int64_t, 2>& p) { return Json::array({p[0], p[1]}); }

// The padding before and after each spatial axis, from `pads` ([x1_begin, x2_begin, ...,
// x1_end, x2_end, ...]) or from `auto_pad` for an input of spatial shape `spatial`.
struct WindowPads {
  std::vector<int64_t> begin, end;
};
WindowPads window_pads(const Attributes& attrs, const Shape& spatial,
                       const std::vector<int64_t>& kernel, const std::vector<int64_t>& stride,
                       const std::vector<int64_t>& dilation);

// The [H, W] padding from `pads` or `auto_pad`; throws when the two sides of an axis differ.
std::array<int64_t, 2> symmetric_pads(const Attributes& attrs, const Dynamic& x,
                                      const std::array<int64_t, 2>& kernel,
                                      const std::array<int64_t, 2>& stride,
                                      const std::array<int64_t, 2>& dilation);

}  // namespace shrink::onnx_io
