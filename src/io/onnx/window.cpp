#include "io/onnx/window.hpp"

#include "shrink/core/error.hpp"

#include <algorithm>

namespace shrink::onnx_io {

std::vector<int64_t> window_attribute(const Attributes& attrs, const char* name, size_t rank,
                                      std::optional<int64_t> fallback, int64_t minimum) {
  if (!fallback && !attrs.has(name))
    throw Error::bad_input(std::string("attribute '") + name + "' is required");
  const auto v = attrs.get_ints(name, std::vector<int64_t>(rank, fallback.value_or(0)));
  if (v.size() != rank)
    throw Error::bad_input(std::string(name) + " has " + std::to_string(v.size()) +
                           " values for " + std::to_string(rank) + " spatial axes");
  for (int64_t x : v)
    if (x < minimum || x > kMaxWindowAttribute)
      throw Error::bad_input(std::string(name) + " " + to_string(v) + " must lie between " +
                             std::to_string(minimum) + " and " +
                             std::to_string(kMaxWindowAttribute));
  return v;
}

std::array<int64_t, 2> pair_attribute(const Attributes& attrs, const char* name,
                                      std::optional<int64_t> fallback, int64_t minimum) {
  if (attrs.has(name) && attrs.get_ints(name).size() != 2)
    throw Error::bad_input(std::string(name) + " has " +
                           std::to_string(attrs.get_ints(name).size()) +
                           " values; shrink supports 2-D operators only");
  const auto v = window_attribute(attrs, name, 2, fallback, minimum);
  return {v[0], v[1]};
}

WindowPads window_pads(const Attributes& attrs, const Shape& spatial,
                       const std::vector<int64_t>& kernel, const std::vector<int64_t>& stride,
                       const std::vector<int64_t>& dilation) {
  const size_t rank = spatial.size();
  const std::string auto_pad = attrs.get_string("auto_pad", "NOTSET");
  WindowPads pads{std::vector<int64_t>(rank, 0), std::vector<int64_t>(rank, 0)};
  if (auto_pad == "NOTSET") {
    const std::vector<int64_t> given = attrs.get_ints("pads", std::vector<int64_t>(2 * rank, 0));
    if (given.size() != 2 * rank)
      throw Error::bad_input("pads has " + std::to_string(given.size()) + " values, expected " +
                             std::to_string(2 * rank));
    for (int64_t p : given)
      if (p < 0 || p > kMaxWindowAttribute)
        throw Error::bad_input("pads " + to_string(given) + " must lie between 0 and " +
                               std::to_string(kMaxWindowAttribute));
    pads.begin.assign(given.begin(), given.begin() + static_cast<std::ptrdiff_t>(rank));
    pads.end.assign(given.begin() + static_cast<std::ptrdiff_t>(rank), given.end());
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    // The output keeps ceil(in / stride) positions; the odd unit of padding goes after the
    // axis (SAME_UPPER) or before it (SAME_LOWER).
    for (size_t i = 0; i < rank; ++i) {
      const int64_t in = spatial[i];
      const int64_t out = (in + stride[i] - 1) / stride[i];
      const int64_t extent = (kernel[i] - 1) * dilation[i] + 1;
      const int64_t total = std::max<int64_t>(0, (out - 1) * stride[i] + extent - in);
      const int64_t small = total / 2, large = total - small;
      pads.begin[i] = auto_pad == "SAME_UPPER" ? small : large;
      pads.end[i] = auto_pad == "SAME_UPPER" ? large : small;
    }
  } else if (auto_pad != "VALID") {
    throw Error::bad_input("auto_pad '" + auto_pad + "' is not one of NOTSET, SAME_UPPER, " +
                           "SAME_LOWER, VALID");
  }
  return pads;
}

std::array<int64_t, 2> symmetric_pads(const Attributes& attrs, const Dynamic& x,
                                      const std::array<int64_t, 2>& kernel,
                                      const std::array<int64_t, 2>& stride,
                                      const std::array<int64_t, 2>& dilation) {
  const WindowPads pads =
      window_pads(attrs, {x.sample.at(1), x.sample.at(2)}, {kernel[0], kernel[1]},
                  {stride[0], stride[1]}, {dilation[0], dilation[1]});
  if (pads.begin != pads.end) {
    const std::string auto_pad = attrs.get_string("auto_pad", "NOTSET");
    throw Error::bad_input("the padding [top, left, bottom, right] = " +
                           to_string({pads.begin[0], pads.begin[1], pads.end[0], pads.end[1]}) +
                           (auto_pad == "NOTSET" ? "" : " (from auto_pad " + auto_pad + ")") +
                           " is asymmetric; shrink pads both sides of an axis equally");
  }
  return {pads.begin[0], pads.begin[1]};
}

}  // namespace shrink::onnx_io
