#include "shrink/report/chart.hpp"

#include "shrink/core/error.hpp"
#include "shrink/core/file.hpp"
#include "shrink/report/axis_ticks.hpp"
#include "shrink/report/svg.hpp"

#include <algorithm>
#include <cmath>
#include <tuple>

namespace shrink {
namespace {

constexpr double kTickFont = 11;
constexpr double kLabelFont = 13;
constexpr double kTitleFont = 15;
constexpr double kLegendFont = 12;
constexpr double kTickLength = 5;
constexpr double kLegendRow = 18;
const char* const kTextColor = "#222";
const char* const kFrontColor = "#333";

// Width of a label in pixels, estimated from its length (a sans-serif glyph averages about 0.6
// of the font size), so margins fit the labels without a font engine.
double text_width(const std::string& text, double font_size) {
  size_t glyphs = 0;
  for (unsigned char c : text) glyphs += (c & 0xC0) != 0x80;  // count UTF-8 lead bytes only
  return 0.6 * font_size * static_cast<double>(glyphs);
}

std::string series_name(const ChartSeries& series, size_t index) {
  return series.label.empty() ? "series " + std::to_string(index + 1) : "series '" + series.label + "'";
}

void validate(const Chart& chart) {
  for (size_t s = 0; s < chart.series.size(); ++s) {
    const ChartSeries& series = chart.series[s];
    require(series.x.size() == series.y.size(),
            "chart " + series_name(series, s) + " has " + std::to_string(series.x.size()) +
                " x values but " + std::to_string(series.y.size()) + " y values");
    require(series.tooltips.empty() || series.tooltips.size() == series.x.size(),
            "chart " + series_name(series, s) + " has " + std::to_string(series.tooltips.size()) +
                " tooltips for " + std::to_string(series.x.size()) + " points");
    for (const auto& [axis, values, name] :
         {std::tuple{&chart.x, &series.x, "x"}, std::tuple{&chart.y, &series.y, "y"}}) {
      if (!axis->log) continue;
      for (size_t i = 0; i < values->size(); ++i)
        require(!((*values)[i] <= 0.0),
                std::string("the ") + name + " axis is logarithmic but point " + std::to_string(i + 1) +
                    " of " + series_name(series, s) + " has " + name + " = " +
                    message_number((*values)[i]) + "; use a linear axis or leave the point out");
    }
  }
}

// Maps data values onto pixels along one axis.
struct Scale {
  bool log = false;
  double min = 0, max = 1;          // data range
  double from = 0, to = 1;          // pixel range
  double transform(double v) const { return log ? std::log10(v) : v; }
  double operator()(double v) const {
    return from + (transform(v) - transform(min)) / (transform(max) - transform(min)) * (to - from);
  }
};

// The axis range: fixed bounds where given, otherwise the data's with a 5% margin.
AxisTicks ticks_for(const ChartAxis& axis, const std::vector<double>& values) {
  double low = axis.min, high = axis.max;
  double data_low = HUGE_VAL, data_high = -HUGE_VAL;
  for (double v : values)
    if (std::isfinite(v)) data_low = std::min(data_low, v), data_high = std::max(data_high, v);
  if (data_low > data_high) data_low = axis.log ? 1.0 : 0.0, data_high = axis.log ? 10.0 : 1.0;
  const bool fixed_low = std::isfinite(low), fixed_high = std::isfinite(high);
  if (!fixed_low) low = data_low;
  if (!fixed_high) high = data_high;
  if (axis.log) {
    if (low == high) low /= 2.0, high *= 2.0;
    const double margin = 0.05 * (std::log10(high) - std::log10(low));
    if (!fixed_low) low /= std::pow(10.0, margin);
    if (!fixed_high) high *= std::pow(10.0, margin);
    return log_ticks(low, high);
  }
  if (low == high) {
    const double pad = low == 0.0 ? 1.0 : std::abs(low) * 0.1;
    low -= pad, high += pad;
  }
  const double margin = 0.05 * (high - low);
  if (!fixed_low) low -= margin;
  if (!fixed_high) high += margin;
  return linear_ticks(low, high);
}

std::vector<std::string> labels_for(const ChartAxis& axis, const AxisTicks& ticks) {
  if (!axis.format) return tick_labels(ticks);
  std::vector<std::string> labels;
  for (double v : ticks.major) labels.push_back(axis.format(v));
  return labels;
}

void draw_marker(Svg& svg, Marker marker, double x, double y, const std::string& color) {
  const SvgAttributes style = {{"fill", color}, {"stroke", "#fff"}, {"stroke-width", "0.8"}};
  switch (marker) {
    case Marker::Square: svg.rect(x - 3.1, y - 3.1, 6.2, 6.2, style); break;
    case Marker::Triangle: svg.polygon({{x, y - 4.4}, {x + 3.9, y + 2.4}, {x - 3.9, y + 2.4}}, style); break;
    case Marker::Diamond: svg.polygon({{x, y - 4.4}, {x + 4.4, y}, {x, y + 4.4}, {x - 4.4, y}}, style); break;
    case Marker::None: break;
    default: svg.circle(x, y, 3.5, style);
  }
}

Marker marker_of(const ChartSeries& series, size_t index) {
  static constexpr Marker kShapes[] = {Marker::Circle, Marker::Square, Marker::Triangle, Marker::Diamond};
  return series.marker == Marker::Auto ? kShapes[index % 4] : series.marker;
}

// The boundary of the region the front dominates: from each front point to the next through
// the corner that is worse on both axes.
std::vector<std::pair<double, double>> staircase(const std::vector<std::pair<double, double>>& front,
                                                 const ParetoFront& goal) {
  std::vector<std::pair<double, double>> path;
  for (size_t i = 0; i < front.size(); ++i) {
    if (i > 0) {
      const auto& [x0, y0] = front[i - 1];
      const auto& [x1, y1] = front[i];
      const double worse_x = goal.x == Better::Lower ? std::max(x0, x1) : std::min(x0, x1);
      const double worse_y = goal.y == Better::Higher ? std::min(y0, y1) : std::max(y0, y1);
      path.emplace_back(worse_x, worse_y);
    }
    path.push_back(front[i]);
  }
  return path;
}

}  // namespace

const std::vector<std::string>& chart_palette() {
  static const std::vector<std::string> palette = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                                   "#E69F00", "#56B4E9", "#000000"};
  return palette;
}

std::string render_chart(const Chart& chart) {
  validate(chart);
  std::vector<double> xs, ys;
  for (const ChartSeries& s : chart.series) {
    xs.insert(xs.end(), s.x.begin(), s.x.end());
    ys.insert(ys.end(), s.y.begin(), s.y.end());
  }
  const AxisTicks x_ticks = ticks_for(chart.x, xs);
  const AxisTicks y_ticks = ticks_for(chart.y, ys);
  const std::vector<std::string> x_labels = labels_for(chart.x, x_ticks);
  const std::vector<std::string> y_labels = labels_for(chart.y, y_ticks);

  // Pareto front over every finite point of every series.
  std::vector<std::pair<double, double>> front;
  if (chart.pareto) {
    std::vector<double> fx, fy;
    for (size_t i = 0; i < xs.size(); ++i)
      if (std::isfinite(xs[i]) && std::isfinite(ys[i])) fx.push_back(xs[i]), fy.push_back(ys[i]);
    for (size_t i : pareto_front(fx, fy, chart.pareto->x, chart.pareto->y)) front.emplace_back(fx[i], fy[i]);
  }

  // Legend entries: labelled series, then the front.
  std::vector<size_t> legend;
  double legend_text = 0;
  for (size_t s = 0; s < chart.series.size(); ++s)
    if (!chart.series[s].label.empty()) {
      legend.push_back(s);
      legend_text = std::max(legend_text, text_width(chart.series[s].label, kLegendFont));
    }
  const bool front_in_legend = !front.empty() && !chart.pareto->label.empty();
  if (front_in_legend) legend_text = std::max(legend_text, text_width(chart.pareto->label, kLegendFont));
  const size_t legend_rows = legend.size() + (front_in_legend ? 1 : 0);

  // Layout: margins sized to the labels, the legend to the right of the plot.
  double y_label_width = 0;
  for (const auto& label : y_labels) y_label_width = std::max(y_label_width, text_width(label, kTickFont));
  const double left = 10 + (chart.y.label.empty() ? 0 : kLabelFont + 6) + y_label_width + kTickLength + 5;
  const double right = 16 + (legend_rows ? 16 + 28 + legend_text : 0);
  const double top = 14 + (chart.title.empty() ? 0 : kTitleFont + 10);
  const double bottom = 10 + (chart.x.label.empty() ? 0 : kLabelFont + 8) + kTickFont + kTickLength + 6;
  const double width = std::max(chart.width, left + right + 120);
  const double height = std::max({chart.height, top + bottom + 100, top + bottom + legend_rows * kLegendRow + 8});
  const double plot_left = left, plot_right = width - right;
  const double plot_top = top, plot_bottom = height - bottom;
  const Scale sx{chart.x.log, x_ticks.min, x_ticks.max, plot_left, plot_right};
  const Scale sy{chart.y.log, y_ticks.min, y_ticks.max, plot_bottom, plot_top};

  Svg svg(width, height);
  svg.title(chart.title.empty() ? chart.y.label + " against " + chart.x.label : chart.title);
  svg.rect(0, 0, width, height, {{"fill", "#fff"}});
  if (!chart.title.empty())
    svg.text((plot_left + plot_right) / 2, 14 + kTitleFont, chart.title, TextAnchor::Middle,
             {{"font-size", svg_number(kTitleFont)}, {"font-weight", "bold"}, {"fill", kTextColor}});

  // Grid.
  svg.begin_group({{"stroke-width", "1"}});
  for (double v : x_ticks.minor) svg.line(sx(v), plot_top, sx(v), plot_bottom, {{"stroke", "#f2f2f2"}});
  for (double v : y_ticks.minor) svg.line(plot_left, sy(v), plot_right, sy(v), {{"stroke", "#f2f2f2"}});
  for (double v : x_ticks.major) svg.line(sx(v), plot_top, sx(v), plot_bottom, {{"stroke", "#e0e0e0"}});
  for (double v : y_ticks.major) svg.line(plot_left, sy(v), plot_right, sy(v), {{"stroke", "#e0e0e0"}});
  svg.end();

  // Ticks and their labels; x labels thinned out when they would overlap.
  double widest_x_label = 0;
  for (const auto& label : x_labels) widest_x_label = std::max(widest_x_label, text_width(label, kTickFont));
  double closest = HUGE_VAL;
  for (size_t i = 1; i < x_ticks.major.size(); ++i)
    closest = std::min(closest, sx(x_ticks.major[i]) - sx(x_ticks.major[i - 1]));
  const size_t label_every = closest < widest_x_label + 6
                                 ? static_cast<size_t>(std::ceil((widest_x_label + 6) / closest))
                                 : 1;
  svg.begin_group({{"stroke", "#444"}, {"font-size", svg_number(kTickFont)}, {"fill", kTextColor}});
  for (double v : x_ticks.minor) svg.line(sx(v), plot_bottom, sx(v), plot_bottom + 3);
  for (double v : y_ticks.minor) svg.line(plot_left - 3, sy(v), plot_left, sy(v));
  for (size_t i = 0; i < x_ticks.major.size(); ++i) {
    const double x = sx(x_ticks.major[i]);
    svg.line(x, plot_bottom, x, plot_bottom + kTickLength);
    if (i % label_every == 0)
      svg.text(x, plot_bottom + kTickLength + kTickFont + 1, x_labels[i], TextAnchor::Middle,
               {{"stroke", "none"}});
  }
  for (size_t i = 0; i < y_ticks.major.size(); ++i) {
    const double y = sy(y_ticks.major[i]);
    svg.line(plot_left - kTickLength, y, plot_left, y);
    svg.text(plot_left - kTickLength - 3, y + kTickFont * 0.35, y_labels[i], TextAnchor::End,
             {{"stroke", "none"}});
  }
  svg.end();
  svg.rect(plot_left, plot_top, plot_right - plot_left, plot_bottom - plot_top,
           {{"fill", "none"}, {"stroke", "#444"}, {"stroke-width", "1"}});

  // Axis labels.
  const SvgAttributes label_style = {{"font-size", svg_number(kLabelFont)}, {"fill", kTextColor}};
  if (!chart.x.label.empty())
    svg.text((plot_left + plot_right) / 2, height - 12, chart.x.label, TextAnchor::Middle, label_style);
  if (!chart.y.label.empty())
    svg.text(10 + kLabelFont, (plot_top + plot_bottom) / 2, chart.y.label, TextAnchor::Middle,
             label_style, -90);

  // Data, clipped to the plot area plus room for a marker at its edge.
  svg.begin_clip(plot_left - 6, plot_top - 6, plot_right - plot_left + 12, plot_bottom - plot_top + 12);
  if (!front.empty()) {
    std::vector<std::pair<double, double>> path;
    for (const auto& [x, y] : staircase(front, *chart.pareto)) path.emplace_back(sx(x), sy(y));
    svg.polyline(path, {{"stroke", kFrontColor}, {"stroke-width", "1.2"}, {"stroke-dasharray", "4,3"}});
  }
  size_t palette_index = 0;
  std::vector<std::string> colors;
  for (size_t s = 0; s < chart.series.size(); ++s) {
    const ChartSeries& series = chart.series[s];
    colors.push_back(series.color.empty() ? chart_palette()[palette_index++ % chart_palette().size()]
                                          : series.color);
    if (!series.line) continue;
    std::vector<std::pair<double, double>> run;
    auto flush = [&] {
      if (run.size() > 1) {
        SvgAttributes style = {{"stroke", colors[s]}, {"stroke-width", "1.8"}, {"stroke-linejoin", "round"}};
        if (series.dashed) style.emplace_back("stroke-dasharray", "6,4");
        svg.polyline(run, style);
      }
      run.clear();
    };
    for (size_t i = 0; i < series.x.size(); ++i) {
      if (std::isfinite(series.x[i]) && std::isfinite(series.y[i]))
        run.emplace_back(sx(series.x[i]), sy(series.y[i]));
      else
        flush();
    }
    flush();
  }
  for (size_t s = 0; s < chart.series.size(); ++s) {
    const ChartSeries& series = chart.series[s];
    const Marker marker = marker_of(series, s);
    for (size_t i = 0; i < series.x.size(); ++i) {
      if (!std::isfinite(series.x[i]) || !std::isfinite(series.y[i])) continue;
      if (!series.tooltips.empty()) svg.tooltip(series.tooltips[i]);
      draw_marker(svg, marker, sx(series.x[i]), sy(series.y[i]), colors[s]);
    }
  }
  for (const auto& [x, y] : front)
    svg.circle(sx(x), sy(y), 6, {{"fill", "none"}, {"stroke", kFrontColor}, {"stroke-width", "1.2"}});
  if (xs.empty())
    svg.text((plot_left + plot_right) / 2, (plot_top + plot_bottom) / 2, "no data", TextAnchor::Middle,
             {{"font-size", svg_number(kLabelFont)}, {"fill", "#888"}});
  svg.end();

  // Legend.
  svg.begin_group({{"font-size", svg_number(kLegendFont)}, {"fill", kTextColor}});
  const double lx = plot_right + 16;
  double ly = plot_top + 4 + kLegendRow / 2;
  for (size_t s : legend) {
    const ChartSeries& series = chart.series[s];
    if (series.line) {
      SvgAttributes style = {{"stroke", colors[s]}, {"stroke-width", "1.8"}};
      if (series.dashed) style.emplace_back("stroke-dasharray", "6,4");
      svg.line(lx, ly, lx + 22, ly, style);
    }
    draw_marker(svg, marker_of(series, s), lx + 11, ly, colors[s]);
    svg.text(lx + 28, ly + kLegendFont * 0.35, series.label);
    ly += kLegendRow;
  }
  if (front_in_legend) {
    svg.line(lx, ly, lx + 22, ly, {{"stroke", kFrontColor}, {"stroke-width", "1.2"}, {"stroke-dasharray", "4,3"}});
    svg.circle(lx + 11, ly, 6, {{"fill", "none"}, {"stroke", kFrontColor}, {"stroke-width", "1.2"}});
    svg.text(lx + 28, ly + kLegendFont * 0.35, chart.pareto->label);
  }
  svg.end();
  return svg.str();
}

void write_chart(const Chart& chart, const std::string& path) {
  write_file_atomic(path, render_chart(chart));
}

}  // namespace shrink
