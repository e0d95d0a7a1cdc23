#include "shrink/report/svg.hpp"

#include "shrink/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>

namespace shrink {

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t' || c == '\n' || c == '\r') out += c;
    }
  }
  return out;
}

std::string svg_number(double value) {
  if (!std::isfinite(value)) throw Error::internal("SVG coordinate is not finite");
  const double rounded = std::round(value * 100.0) / 100.0;
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%.2f", rounded == 0.0 ? 0.0 : rounded);
  std::string text = buffer;
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text;
}

Svg::Svg(double width, double height) : width_(width), height_(height) {}

void Svg::title(std::string_view text) { title_ = std::string(text); }

void Svg::element(std::string_view name, const SvgAttributes& geometry,
                  const SvgAttributes& attributes) {
  body_ += '<';
  body_ += name;
  for (const auto* list : {&geometry, &attributes})
    for (const auto& [key, value] : *list) body_ += ' ' + key + "=\"" + xml_escape(value) + '"';
  if (pending_tooltip_.empty()) {
    body_ += "/>\n";
    return;
  }
  body_ += "><title>" + xml_escape(pending_tooltip_) + "</title></" + std::string(name) + ">\n";
  pending_tooltip_.clear();
}

void Svg::rect(double x, double y, double width, double height, const SvgAttributes& attributes) {
  element("rect",
          {{"x", svg_number(x)}, {"y", svg_number(y)}, {"width", svg_number(std::max(0.0, width))},
           {"height", svg_number(std::max(0.0, height))}},
          attributes);
}

void Svg::line(double x1, double y1, double x2, double y2, const SvgAttributes& attributes) {
  element("line",
          {{"x1", svg_number(x1)}, {"y1", svg_number(y1)}, {"x2", svg_number(x2)}, {"y2", svg_number(y2)}},
          attributes);
}

namespace {

std::string point_list(const std::vector<std::pair<double, double>>& points) {
  std::string text;
  for (const auto& [x, y] : points) {
    if (!text.empty()) text += ' ';
    text += svg_number(x);
    text += ',';
    text += svg_number(y);
  }
  return text;
}

}  // namespace

void Svg::polyline(const std::vector<std::pair<double, double>>& points, const SvgAttributes& attributes) {
  SvgAttributes all = {{"fill", "none"}};
  all.insert(all.end(), attributes.begin(), attributes.end());
  element("polyline", {{"points", point_list(points)}}, all);
}

void Svg::polygon(const std::vector<std::pair<double, double>>& points, const SvgAttributes& attributes) {
  element("polygon", {{"points", point_list(points)}}, attributes);
}

void Svg::circle(double cx, double cy, double r, const SvgAttributes& attributes) {
  element("circle", {{"cx", svg_number(cx)}, {"cy", svg_number(cy)}, {"r", svg_number(r)}}, attributes);
}

void Svg::text(double x, double y, std::string_view text, TextAnchor anchor,
               const SvgAttributes& attributes, double rotate) {
  body_ += "<text x=\"" + svg_number(x) + "\" y=\"" + svg_number(y) + '"';
  if (anchor != TextAnchor::Start)
    body_ += std::string(" text-anchor=\"") + (anchor == TextAnchor::Middle ? "middle" : "end") + '"';
  if (rotate != 0.0)
    body_ += " transform=\"rotate(" + svg_number(rotate) + " " + svg_number(x) + " " + svg_number(y) + ")\"";
  for (const auto& [key, value] : attributes) body_ += ' ' + key + "=\"" + xml_escape(value) + '"';
  body_ += '>';
  if (!pending_tooltip_.empty()) body_ += "<title>" + xml_escape(pending_tooltip_) + "</title>";
  pending_tooltip_.clear();
  body_ += xml_escape(text) + "</text>\n";
}

void Svg::png_image(double x, double y, double width, double height, std::string_view png_bytes) {
  element("image",
          {{"x", svg_number(x)}, {"y", svg_number(y)}, {"width", svg_number(width)},
           {"height", svg_number(height)}, {"preserveAspectRatio", "none"},
           {"style", "image-rendering:pixelated"},
           {"href", "data:image/png;base64," + base64_encode(png_bytes)}},
          {});
}

void Svg::begin_group(const SvgAttributes& attributes) {
  body_ += "<g";
  for (const auto& [key, value] : attributes) body_ += ' ' + key + "=\"" + xml_escape(value) + '"';
  body_ += ">\n";
  open_.push_back("g");
}

void Svg::begin_clip(double x, double y, double width, double height) {
  const std::string box = svg_number(x) + " " + svg_number(y) + " " + svg_number(width) + " " +
                          svg_number(height);
  body_ += "<svg x=\"" + svg_number(x) + "\" y=\"" + svg_number(y) + "\" width=\"" +
           svg_number(width) + "\" height=\"" + svg_number(height) + "\" viewBox=\"" + box +
           "\" overflow=\"hidden\">\n";
  open_.push_back("svg");
}

void Svg::end() {
  if (open_.empty()) throw Error::internal("Svg::end without an open group or clip");
  body_ += "</" + open_.back() + ">\n";
  open_.pop_back();
}

void Svg::tooltip(std::string_view text) { pending_tooltip_ = std::string(text); }

std::string Svg::str() const {
  if (!open_.empty()) throw Error::internal("SVG document has an unclosed <" + open_.back() + ">");
  std::string out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + svg_number(width_) +
                    "\" height=\"" + svg_number(height_) + "\" viewBox=\"0 0 " + svg_number(width_) +
                    " " + svg_number(height_) + "\" font-family=\"sans-serif\">\n";
  if (!title_.empty()) out += "<title>" + xml_escape(title_) + "</title>\n";
  out += body_;
  out += "</svg>\n";
  return out;
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                       static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
                       static_cast<unsigned char>(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(v >> shift) & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) v |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace shrink
