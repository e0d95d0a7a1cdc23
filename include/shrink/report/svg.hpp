#pragma once
// A small writer of self-contained SVG: shapes and text with their attributes inline, every
// string escaped, coordinates rounded to a hundredth of a pixel. Charts, image grids and HTML
// reports draw through it, so no page needs a script engine or a style sheet to show.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shrink {

// Escapes &, <, >, " and ' for XML text and attribute values; drops control characters XML
// forbids (everything below 0x20 except tab, newline and carriage return).
std::string xml_escape(std::string_view text);

// A number as an SVG coordinate: at most two decimals, no trailing zeros ("12.5", "-3", "0").
std::string svg_number(double value);

// Attributes of one element, written in the order given: {{"fill", "#000"}, {"x", "12"}}.
using SvgAttributes = std::vector<std::pair<std::string, std::string>>;

enum class TextAnchor { Start, Middle, End };

class Svg {
 public:
  Svg(double width, double height);

  double width() const { return width_; }
  double height() const { return height_; }

  // <title> of the document, shown by viewers and read by screen readers.
  void title(std::string_view text);
  void rect(double x, double y, double width, double height, const SvgAttributes& attributes = {});
  void line(double x1, double y1, double x2, double y2, const SvgAttributes& attributes = {});
  // An open polyline through (x, y) pairs.
  void polyline(const std::vector<std::pair<double, double>>& points,
                const SvgAttributes& attributes = {});
  void polygon(const std::vector<std::pair<double, double>>& points,
               const SvgAttributes& attributes = {});
  void circle(double cx, double cy, double r, const SvgAttributes& attributes = {});
  // `rotate` in degrees about (x, y); the text is escaped.
  void text(double x, double y, std::string_view text, TextAnchor anchor = TextAnchor::Start,
            const SvgAttributes& attributes = {}, double rotate = 0.0);
  // An embedded raster image (PNG bytes), drawn without smoothing so small images stay sharp.
  void png_image(double x, double y, double width, double height, std::string_view png_bytes);
  // <g> with attributes shared by what it holds (a font size, a colour); close with end().
  void begin_group(const SvgAttributes& attributes = {});
  // What is drawn until end() shows only inside this rectangle (a nested <svg> viewport in the
  // same coordinates, so no element ids are needed and pages may inline many documents).
  void begin_clip(double x, double y, double width, double height);
  // Closes the innermost group or clip.
  void end();
  // A <title> tooltip on the element drawn next (browsers show it on hover).
  void tooltip(std::string_view text);

  // The complete document, starting with <svg xmlns=...>. Throws an internal Error when a
  // group or clip is still open.
  std::string str() const;

 private:
  void element(std::string_view name, const SvgAttributes& geometry, const SvgAttributes& attributes);

  double width_;
  double height_;
  std::string title_;
  std::string body_;
  std::string pending_tooltip_;
  std::vector<std::string> open_;  // names of the elements begin_* opened
};

// Base64 (RFC 4648, with padding), for data: URIs.
std::string base64_encode(std::string_view bytes);

}  // namespace shrink
