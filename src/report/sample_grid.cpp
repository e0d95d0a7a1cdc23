#include "shrink/report/sample_grid.hpp"

#include "shrink/core/error.hpp"
#include "shrink/report/png.hpp"
#include "shrink/report/svg.hpp"

#include <algorithm>
#include <cmath>

namespace shrink {
namespace {

constexpr double kImage = 64;
constexpr double kCellWidth = 132;
constexpr double kCellHeight = kImage + 52;
constexpr double kFont = 11;

// Sample i as 8-bit pixels, interleaved RGB for three channels. Byte datasets give their raw
// bytes; float datasets are stretched from their own minimum to maximum.
std::vector<uint8_t> sample_pixels(const Dataset& data, int64_t i) {
  const int64_t channels = data.sample_shape[0];
  const int64_t plane = data.sample_shape[1] * data.sample_shape[2];
  std::vector<float> raw(static_cast<size_t>(channels * plane));
  for (int64_t j = 0; j < channels * plane; ++j) raw[static_cast<size_t>(j)] = data.raw(i, j);
  float low = 0.0f, high = 255.0f;
  if (!data.stores_bytes()) {
    low = *std::min_element(raw.begin(), raw.end());
    high = *std::max_element(raw.begin(), raw.end());
    if (high <= low) high = low + 1.0f;
  }
  std::vector<uint8_t> pixels(raw.size());
  for (int64_t p = 0; p < plane; ++p)
    for (int64_t c = 0; c < channels; ++c) {
      const float v = (raw[static_cast<size_t>(c * plane + p)] - low) / (high - low) * 255.0f;
      pixels[static_cast<size_t>(p * channels + c)] =
          static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
    }
  return pixels;
}

std::string class_name(const Dataset& data, int32_t c) {
  if (c < 0) return "(NaN)";
  return static_cast<size_t>(c) < data.class_names.size() ? data.class_names[c] : std::to_string(c);
}

}  // namespace

bool samples_are_images(const Dataset& data) {
  return data.sample_shape.size() == 3 && (data.sample_shape[0] == 1 || data.sample_shape[0] == 3);
}

std::string changed_samples_svg(const Dataset& data, const std::vector<ChangedSample>& samples,
                                size_t max_samples, const std::string& before_name,
                                const std::string& after_name, int columns) {
  require(samples_are_images(data), "a sample grid needs images of shape [1, H, W] or [3, H, W]; " +
                                        data.name + " has samples of shape " + to_string(data.sample_shape));
  const size_t n = std::min(max_samples, samples.size());
  const int cols = std::max(1, std::min(columns, static_cast<int>(std::max<size_t>(n, 1))));
  const size_t rows = (n + cols - 1) / cols;
  Svg svg(cols * kCellWidth + 8, std::max<double>(rows, 1) * kCellHeight + 8);
  svg.title("test samples whose prediction changed: true class, " + before_name + ", " + after_name);
  svg.rect(0, 0, svg.width(), svg.height(), {{"fill", "#fff"}});
  svg.begin_group({{"font-size", svg_number(kFont)}});
  for (size_t k = 0; k < n; ++k) {
    const ChangedSample& s = samples[k];
    require(s.index >= 0 && s.index < data.size(),
            "sample index " + std::to_string(s.index) + " is outside " + data.name);
    const double x = 4 + static_cast<double>(k % cols) * kCellWidth;
    const double y = 4 + static_cast<double>(k / cols) * kCellHeight;
    const std::vector<uint8_t> pixels = sample_pixels(data, s.index);
    const auto channels = static_cast<int>(data.sample_shape[0]);
    svg.png_image(x + (kCellWidth - kImage) / 2, y, kImage, kImage,
                  encode_png(data.sample_shape[2], data.sample_shape[1], channels, pixels.data()));
    const double tx = x + kCellWidth / 2;
    auto mark = [&](int32_t predicted) { return predicted == s.label ? "#1a7f37" : "#c62828"; };
    std::string heading = "#";
    heading += std::to_string(s.index);
    heading += ' ';
    heading += class_name(data, s.label);
    svg.text(tx, y + kImage + 13, heading,
             TextAnchor::Middle, {{"fill", "#222"}, {"font-weight", "bold"}});
    svg.text(tx, y + kImage + 26, before_name + ": " + class_name(data, s.before), TextAnchor::Middle,
             {{"fill", mark(s.before)}});
    svg.text(tx, y + kImage + 39, after_name + ": " + class_name(data, s.after), TextAnchor::Middle,
             {{"fill", mark(s.after)}});
  }
  if (n == 0) svg.text(svg.width() / 2, svg.height() / 2, "no prediction changed", TextAnchor::Middle);
  svg.end();
  return svg.str();
}

}  // namespace shrink
