#include "shrink/report/html_report.hpp"

#include "shrink/core/error.hpp"
#include "shrink/report/summary.hpp"
#include "shrink/report/svg.hpp"
#include "shrink/version.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string_view>

namespace shrink {
namespace {

using nlohmann::json;

std::string esc(std::string_view text) { return xml_escape(text); }

std::string fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}
std::string percent(double fraction, int decimals = 2) { return fixed(100.0 * fraction, decimals) + "%"; }
std::string signed_points(double fraction) {
  return (fraction >= 0 ? "+" : "\u2212") + fixed(100.0 * std::fabs(fraction), 2) + " pt";
}
// Joules with the unit that keeps 1-3 digits before the point.
std::string joules(double value) {
  const double a = std::fabs(value);
  if (a >= 1e3) return fixed(value / 1e3, 2) + " kJ";
  if (a >= 1) return fixed(value, 2) + " J";
  if (a >= 1e-3) return fixed(value * 1e3, 2) + " mJ";
  if (a >= 1e-6) return fixed(value * 1e6, 2) + " \u00b5J";
  return fixed(value * 1e9, 2) + " nJ";
}

double number(const json& j, const char* key, double fallback = std::nan("")) {
  return j.is_object() && j.contains(key) && j[key].is_number() ? j[key].get<double>() : fallback;
}
const json& at_path(const json& root, std::initializer_list<const char*> path) {
  static const json kNull;
  const json* at = &root;
  for (const char* key : path) {
    if (!at->is_object() || !at->contains(key)) return kNull;
    at = &(*at)[key];
  }
  return *at;
}

// One horizontal bar per row, from 0 to its value on a [low, high] scale (low < 0 draws bars
// on both sides of a zero line), with the row's label on the left and its text on the right.
struct Bar {
  std::string label;
  double value = 0;
  std::string text;
  std::string color = "#0072b2";
};
std::string bars_svg(const std::string& title, const std::vector<Bar>& bars, double low, double high) {
  const double label_width = 150, plot_width = 330, text_width = 150, row = 20, top = 26;
  Svg svg(label_width + plot_width + text_width, top + row * static_cast<double>(bars.size()) + 8);
  svg.title(title);
  svg.begin_group({{"font-family", "sans-serif"}, {"font-size", "12"}});
  svg.text(0, 15, title, TextAnchor::Start, {{"font-weight", "bold"}});
  const double span = high > low ? high - low : 1;
  auto x_of = [&](double v) { return label_width + plot_width * (std::clamp(v, low, high) - low) / span; };
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& bar = bars[i];
    const double y = top + row * static_cast<double>(i);
    svg.text(label_width - 6, y + 14, bar.label, TextAnchor::End);
    svg.rect(label_width, y + 2, plot_width, row - 4, {{"fill", "#f0f0f0"}});
    const double x0 = x_of(0), x1 = x_of(bar.value);
    svg.tooltip(bar.label + ": " + bar.text);
    svg.rect(std::min(x0, x1), y + 2, std::max(std::fabs(x1 - x0), 0.5), row - 4, {{"fill", bar.color}});
    svg.text(label_width + plot_width + 6, y + 14, bar.text);
  }
  if (low < 0) svg.line(x_of(0), top, x_of(0), top + row * static_cast<double>(bars.size()), {{"stroke", "#333"}});
  svg.end();
  return svg.str();
}

class Page {
 public:
  void raw(std::string_view html) { out_ += html; }
  void text(std::string_view t) { out_ += esc(t); }
  void heading(const std::string& id, const std::string& title) {
    out_ += "<h2 id=\"" + esc(id) + "\">" + esc(title) + "</h2>\n";
  }
  void paragraph(const std::string& t, const std::string& cls = "") {
    out_ += cls.empty() ? "<p>" : "<p class=\"" + cls + "\">";
    out_ += esc(t) + "</p>\n";
  }
  // A table: the header row, then rows of cells (already escaped HTML when `html` is set).
  void table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
             const std::string& cls = "") {
    out_ += cls.empty() ? "<table>" : "<table class=\"" + cls + "\">";
    out_ += "<thead><tr>";
    for (const auto& h : header) out_ += "<th>" + esc(h) + "</th>";
    out_ += "</tr></thead><tbody>\n";
    for (const auto& r : rows) {
      out_ += "<tr>";
      for (const auto& cell : r) out_ += "<td>" + cell + "</td>";
      out_ += "</tr>\n";
    }
    out_ += "</tbody></table>\n";
  }
  void figure(const std::string& svg, const std::string& caption) {
    out_ += "<figure>" + svg + "<figcaption>" + esc(caption) + "</figcaption></figure>\n";
  }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

const char* kStyle = R"(
body{font-family:sans-serif;margin:24px auto;max-width:1000px;color:#222;line-height:1.4}
h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ccc}
p.sub{color:#555;margin-top:0}p.note{color:#555;font-size:13px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
td.worse{color:#b00020}td.better{color:#007a3d}
figure{margin:12px 0}figcaption{font-size:13px;color:#555}
)";

std::string cell(const std::string& text) { return esc(text); }
std::string change_cell(double change, const std::string& text) {
  // A cell with its colour: red when the model got worse, green when better.
  if (!std::isfinite(change) || change == 0) return esc(text);
  return "<span class=\"" + std::string(change < 0 ? "worse" : "better") + "\">" + esc(text) + "</span>";
}

void summary_section(Page& page, const HtmlReportInput& in) {
  const json& m = in.model;
  const json& e = in.evaluation;
  const bool has_base = in.base.is_object();
  page.heading("summary", "Summary");
  std::vector<std::vector<std::string>> rows;
  auto row = [&](const std::string& what, const std::string& base, const std::string& model,
                 const std::string& change, const std::string& how) {
    std::vector<std::string> r = {cell(what)};
    if (has_base) r.push_back(cell(base));
    r.push_back(cell(model));
    if (has_base) r.push_back(change);
    r.push_back(cell(how));
    rows.push_back(std::move(r));
  };
  if (e.is_object()) {
    const double after = number(e, "accuracy"), before = number(at_path(e, {"compare"}), "accuracy");
    row("accuracy (" + e.value("split", std::string("test")) + ", " + std::to_string(e.value("samples", 0)) +
            " samples)",
        std::isfinite(before) ? percent(before) : "", percent(after),
        std::isfinite(before) ? change_cell(after - before, signed_points(after - before)) : "", "measured");
  }
  const double bytes = number(m, "file_bytes", number(m, "tensor_bytes")),
               base_bytes = has_base ? number(in.base, "file_bytes", number(in.base, "tensor_bytes")) : NAN;
  row("file size", has_base ? format_bytes(base_bytes) : "", format_bytes(bytes),
      has_base ? change_cell(base_bytes - bytes, fixed(base_bytes / bytes, 2) + "\u00d7 smaller") : "", "measured");
  row("parameters (non-zero)",
      has_base ? format_count(number(in.base, "nonzeros")) + " of " + format_count(number(in.base, "parameters")) : "",
      format_count(number(m, "nonzeros")) + " of " + format_count(number(m, "parameters")), "", "counted");
  row("weight sparsity", has_base ? percent(number(in.base, "weight_sparsity"), 1) : "",
      percent(number(m, "weight_sparsity"), 1), "", "counted");
  const double macs = number(m, "effective_macs"), base_macs = has_base ? number(in.base, "effective_macs") : NAN;
  row("MACs per sample (skipping zero weights)", has_base ? format_count(base_macs) : "", format_count(macs),
      has_base ? change_cell(base_macs - macs, fixed(base_macs / std::max(macs, 1.0), 2) + "\u00d7 fewer") : "",
      "counted");
  if (e.is_object()) {
    const double energy = number(at_path(e, {"energy", "per_inference"}), "joules");
    const double base_energy = number(at_path(e, {"energy", "per_inference_compare"}), "joules");
    if (std::isfinite(energy))
      row("energy per inference", std::isfinite(base_energy) ? joules(base_energy) : "", joules(energy),
          std::isfinite(base_energy) ? change_cell(base_energy - energy, percent(1 - energy / base_energy, 1) + " less")
                                     : "",
          "modelled (Horowitz, 45 nm)");
    const json& job = at_path(e, {"energy", "job"});
    if (job.is_object())
      row("energy of this evaluation", "", joules(number(job, "joules")) + ", " +
                                               fixed(number(job, "co2_grams") * 1e3, 1) + " mg CO\u2082",
          "", job.value("measured", false) ? "measured (RAPL)" : "estimated from CPU time");
  }
  std::vector<std::string> header = {""};
  if (has_base) header.push_back("base");
  header.push_back("this model");
  if (has_base) header.push_back("change");
  header.push_back("how");
  page.table(header, rows, "summary");
  if (e.is_object()) {
    const json& job = at_path(e, {"energy", "job"});
    if (job.is_object()) page.paragraph("Job energy: " + job.value("method", std::string()), "note");
  }
}

// A layer's bits per weight: the summary's bits_per_weight for its weight, else (a report
// written before it had them) the bit width of its format.
double weight_bits(const json& layer) {
  const json bits = layer.value("bits_per_weight", json::array());
  if (!bits.empty() && bits[0].is_number()) return bits[0].get<double>();
  const json formats = layer.value("formats", json::array());
  return formats.empty() ? 32 : format_bits(formats[0].get<std::string>());
}

std::string bits_label(double bits) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, bits == std::floor(bits) ? "%.0f" : "%.2f", bits);
  return buffer;
}

void layers_section(Page& page, const json& model) {
  page.heading("layers", "Layers");
  std::vector<std::vector<std::string>> rows;
  std::vector<Bar> sparsity_bars, bits_bars;
  auto joined = [](const json& list) {
    std::vector<std::string> distinct;
    for (const auto& v : list)
      if (std::find(distinct.begin(), distinct.end(), v.get<std::string>()) == distinct.end())
        distinct.push_back(v.get<std::string>());
    std::string out;
    for (const auto& d : distinct) out += (out.empty() ? "" : ", ") + d;
    return out;
  };
  for (const json& l : model["layers"]) {
    const double params = number(l, "parameters", 0), nonzeros = number(l, "nonzeros", 0);
    std::string shape;
    for (const auto& d : l.value("output_shape", json::array())) shape += (shape.empty() ? "" : "\u00d7") + d.dump();
    const bool weighted = params > 0;
    const double sparsity = weighted ? 1 - nonzeros / params : 0;
    rows.push_back({cell(l.value("name", "")), cell(l.value("type", "")), cell(shape),
                    weighted ? cell(format_count(params)) : "", weighted ? cell(percent(sparsity, 1)) : "",
                    cell(joined(l.value("formats", json::array()))), weighted ? cell(bits_label(weight_bits(l))) : "",
                    cell(joined(l.value("encodings", json::array()))),
                    weighted ? cell(format_bytes(number(l, "bytes", 0))) : "",
                    number(l, "macs", 0) > 0 ? cell(format_count(number(l, "effective_macs", 0))) : ""});
    if (!weighted) continue;
    sparsity_bars.push_back({l.value("name", ""), sparsity, percent(sparsity, 1) + " zero"});
    const json formats = l.value("formats", json::array());
    const std::string format = formats.empty() ? "fp32" : formats[0].get<std::string>();
    bits_bars.push_back({l.value("name", ""), weight_bits(l), format + " (" + bits_label(weight_bits(l)) + " bits)",
                         "#e69f00"});
  }
  page.table({"layer", "type", "output", "parameters", "sparsity", "format", "bits/weight", "encoding", "bytes",
              "MACs (non-zero)"},
             rows, "layers");
  if (!sparsity_bars.empty()) {
    page.figure(bars_svg("Weight sparsity per layer", sparsity_bars, 0, 1),
                "The share of each layer's parameters that are zero (pruned).");
    page.figure(bars_svg("Bits per weight", bits_bars, 0, 32),
                "The bits each layer's weight spends per weight: a stored code's bits over the weights it stands "
                "for (product quantization: code bits / d), 32 for float; codebooks and sparse positions not counted.");
  }
}

void size_section(Page& page, const HtmlReportInput& in) {
  page.heading("size", "Where the bytes go");
  const double file = number(in.model, "file_bytes", number(in.model, "tensor_bytes"));
  std::vector<Bar> bars;
  for (const json& l : in.model["layers"]) {
    const double bytes = number(l, "bytes", 0);
    if (bytes <= 0) continue;
    bars.push_back({l.value("name", ""), bytes / file, format_bytes(bytes) + " (" + percent(bytes / file, 1) + ")",
                    "#009e73"});
  }
  const double tensors = number(in.model, "tensor_bytes", 0);
  if (file > tensors)
    bars.push_back({"header, metadata", (file - tensors) / file, format_bytes(file - tensors), "#999999"});
  page.figure(bars_svg("Share of the file (" + format_bytes(file) + ")", bars, 0, 1),
              "Bytes on disk per layer: weights in their stored encoding (dense, sparse, quantized codes) "
              "and the rest of the file.");
}

void classes_section(Page& page, const json& evaluation) {
  const json& impact = evaluation["class_impact"];
  page.heading("classes", "Per-class accuracy");
  const json& classes = impact["classes"];
  std::vector<std::vector<std::string>> rows;
  std::vector<Bar> bars;
  double widest = 0.01;
  for (size_t c = 0; c < classes.size(); ++c) {
    const double before = impact["accuracy_before"][c].get<double>(), after = impact["accuracy_after"][c].get<double>();
    widest = std::max(widest, std::fabs(after - before));
  }
  for (size_t c = 0; c < classes.size(); ++c) {
    const double before = impact["accuracy_before"][c].get<double>(), after = impact["accuracy_after"][c].get<double>();
    const std::string name = classes[c].get<std::string>();
    rows.push_back({cell(name), cell(std::to_string(impact["count"][c].get<int64_t>())), cell(percent(before)),
                    cell(percent(after)), change_cell(after - before, signed_points(after - before)),
                    cell(std::to_string(impact["became_wrong"][c].get<int64_t>())),
                    cell(std::to_string(impact["became_right"][c].get<int64_t>()))});
    bars.push_back({name, after - before, signed_points(after - before), after < before ? "#d55e00" : "#009e73"});
  }
  page.table({"class", "samples", "base", "this model", "change", "became wrong", "became right"}, rows, "classes");
  std::string hurt;
  for (const json& h : impact.value("hurt_most", json::array()))
    hurt += (hurt.empty() ? "" : ", ") + h.value("name", std::string()) + " (" +
            signed_points(h.value("change", 0.0)) + ")";
  page.paragraph("Hurt most: " + (hurt.empty() ? std::string("none") : hurt) + ". " +
                 std::to_string(impact.value("changed_samples", 0)) + " of " + std::to_string(impact.value("samples", 0)) +
                 " samples changed prediction: " + std::to_string(impact.value("became_wrong_samples", 0)) +
                 " became wrong, " + std::to_string(impact.value("became_right_samples", 0)) + " became right.");
  page.figure(bars_svg("Accuracy change per class", bars, -widest, widest),
              "Accuracy of this model minus that of the base, per class (Hooker et al. 2019: what a compressed "
              "model forgets is not spread evenly).");
}

}  // namespace

int format_bits(const std::string& format) {
  const size_t colon = format.rfind(':');
  if (colon != std::string::npos) {
    try {
      return std::stoi(format.substr(colon + 1));
    } catch (const std::exception&) {
    }
  }
  if (format == "fp16" || format == "bf16") return 16;
  return 32;
}

std::string render_html_report(const HtmlReportInput& in) {
  require(in.model.is_object() && in.model.contains("layers") && in.model["layers"].is_array(),
          "an HTML report needs the model's inspect report (with \"layers\")");
  const std::string name = in.model.value("model", std::string("model"));
  Page page;
  page.raw("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head><meta charset=\"utf-8\"/>");
  page.raw("<title>" + esc(in.title.empty() ? "shrink report: " + name : in.title) + "</title>");
  page.raw("<style>" + std::string(kStyle) + "</style></head>\n<body>\n");
  page.raw("<h1>" + esc(in.title.empty() ? "shrink report: " + name : in.title) + "</h1>\n");
  std::string sub = name;
  if (in.base.is_object()) sub += " compared with " + in.base.value("model", std::string("the base"));
  if (in.evaluation.is_object())
    sub += " \u00b7 data " + in.evaluation.value("data", std::string()) + ", " +
           in.evaluation.value("split", std::string()) + " split";
  sub += " \u00b7 shrink " + std::string(kVersion);
  page.paragraph(sub, "sub");

  summary_section(page, in);
  layers_section(page, in.model);
  size_section(page, in);
  if (in.evaluation.is_object() && in.evaluation.contains("class_impact")) classes_section(page, in.evaluation);
  if (!in.figures.empty()) {
    page.heading("figures", "Figures");
    for (const HtmlFigure& f : in.figures) page.figure(f.svg, f.caption);
  }
  page.paragraph("Measured: accuracy and file bytes (and job energy where RAPL counters are readable). Counted: "
                 "parameters, zeros, MACs. Modelled: energy per inference, from MACs by precision and bytes moved "
                 "with Horowitz's 45 nm table (docs/reports.md).",
                 "note");
  page.raw("</body>\n</html>\n");
  return page.str();
}

}  // namespace shrink
