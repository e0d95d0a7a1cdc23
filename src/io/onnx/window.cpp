#include "io/onnx/window.hpp"

#include "shrink/core/error.hpp"

#include <algorithm>

namespace shrink::onnx_io {

std::array<int64_t, 2> pair_attribute(const Attributes& attrs, const char* name,
                                      std::optional<int64_t> fallback, int64_t minimum) {
  if (!fallback && !attrs.has(name))
    throw Error::bad_input(std::string("attribute '") + name + "' is required");
  const auto v = attrs.get_ints(name, {fallback.value_or(0), fallback.value_or(0)});
  if (v.size() != 2)
    throw Error::bad_input(std::string(name) + " has " + std::to_string(v.size()) +
                           " values; shrink supports 2-D operators only");
  for (int64_t x : v)
    if (x < minimum || x > kMaxWindowAttribute)
      throw Error::bad_input(std::string(name) + " " + to_string(v) + " must lie between " +
                             std::to_string(minimum) + " and " +
                             std::to_string(kMaxWindowAttribute));
  return {v[0], v[1]};
}

std::array<int64_t, 2> symmetric_pads(const Attributes& attrs, const Dynamic& x,
                                      const std::array<int64_t, 2>& kernel,
                                      const std::array<int64_t, 2>& stride,
                                      const std::array<int64_t, 2>& dilation) {
  const std::string auto_pad = attrs.get_string("auto_pad", "NOTSET");
  std::vector<int64_t> pads(4, 0);
  if (auto_pad == "NOTSET") {
    pads = attrs.get_ints("pads", {0, 0, 0, 0});
    if (pads.size() != 4)
      throw Error::bad_input("pads has " + std::to_string(pads.size()) + " values, expected 4");
    for (int64_t p : pads)
      if (p < 0 || p > kMaxWindowAttribute)
        throw Error::bad_input("pads " + to_string(pads) + " must lie between 0 and " +
                               std::to_string(kMaxWindowAttribute));
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    for (size_t i = 0; i < 2; ++i) {
      const int64_t in = x.sample.at(1 + i);
      const int64_t out = (in + stride[i] - 1) / stride[i];
      const int64_t extent = (kernel[i] - 1) * dilation[i] + 1;
      const int64_t total = std::max<int64_t>(0, (out - 1) * stride[i] + extent - in);
      const int64_t small = total / 2, large = total - small;
      pads[i] = auto_pad == "SAME_UPPER" ? small : large;
      pads[i + 2] = auto_pad == "SAME_UPPER" ? large : small;
    }
  } else if (auto_pad != "VALID") {
    throw Error::bad_input("auto_pad '" + auto_pad + "' is not one of NOTSET, SAME_UPPER, " +
                           "SAME_LOWER, VALID");
  }
  if (pads[0] != pads[2] || pads[1] != pads[3])
    throw Error::bad_input("the padding [top, left, bottom, right] = " + to_string(pads) +
                           (auto_pad == "NOTSET" ? "" : " (from auto_pad " + auto_pad + ")") +
                           " is asymmetric; shrink pads both sides of an axis equally");
  return {pads[0], pads[1]};
}

}  // namespace shrink::onnx_io
