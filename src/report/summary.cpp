#include "shrink/report/summary.hpp"

#include "shrink/nn/weights.hpp"
#include "nn/quant/code_groups.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>

namespace shrink {

std::string format_count(double value) {
  const char* units[] = {"", "K", "M", "G", "T"};
  int unit = 0;
  while (std::abs(value) >= 1000.0 && unit < 4) {
    value /= 1000.0;
    ++unit;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, unit ? "%.1f%s" : "%.0f%s", value, units[unit]);
  return buffer;
}

std::string format_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  int unit = 0;
  while (bytes >= 1024.0 && unit < 3) {
    bytes /= 1024.0;
    ++unit;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, unit ? "%.2f %s" : "%.0f %s", bytes, units[unit]);
  return buffer;
}

namespace {

// "fp32", "<format>:<bits>" ("kmeans:5": 5-bit codes, one a weight), or for product quantization,
// whose code stands for d weights, "pq:d<d>k<k>" (the options a user gave; its bits per weight are
// the bits_per_weight column).
std::string format_label(const Parameter& p) {
  if (!p.quantized()) return "fp32";
  const Quantizer& q = *p.quantizer();
  const std::string name = q.format().name;
  if (quant::code_groups(q, p.value.shape()).length > 1) {
    const nlohmann::json options = q.options();
    return name + ":d" + options.value("d", nlohmann::json(0)).dump() + "k" + options.value("k", nlohmann::json(0)).dump();
  }
  return name + ":" + std::to_string(q.bits());
}

// Bits per weight as the table shows them: "5", "2.72".
std::string bits_text(double bits) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, bits == std::floor(bits) ? "%.0f" : "%.2f", bits);
  return buffer;
}

}  // namespace

ModelSummary summarize(const Model& model, const std::map<std::string, TensorStorage>& storage,
                       int64_t file_bytes) {
  ModelSummary summary;
  summary.file_bytes = file_bytes;
  std::set<std::string> counted;  // a shared parameter (a learned step) counts at its owner
  for (const Node& node : model.nodes()) {
    LayerSummary layer;
    layer.name = node.name;
    layer.type = node.op->type();
    layer.output_shape = node.output_shape;
    layer.macs = node.op->macs(model.input_shapes(node, 1));
    layer.effective_macs = effective_macs(model, node);
    for (const auto& name : node.parameters) {
      if (!counted.insert(name).second) continue;
      const Parameter& p = model.parameter(name);
      layer.formats.push_back(format_label(p));
      layer.bits_per_weight.push_back(p.quantized() ? quant::bits_per_element(*p.quantizer(), p.value.shape()) : 32.0);
      // Buffers (BatchNorm's running statistics) are not parameters; quantized weights frozen
      // for good (INQ's result) still are.
      if (p.trainable || p.quantized()) {
        layer.parameters += p.value.numel();
        layer.nonzeros += p.nonzeros();
      }
      auto it = storage.find(name);
      if (it != storage.end()) {
        layer.encodings.push_back(it->second.encoding);
        layer.bytes += it->second.bytes;
      } else {
        layer.encodings.push_back("dense");
        layer.bytes += p.value.numel() * 4;
      }
    }
    summary.parameters += layer.parameters;
    summary.nonzeros += layer.nonzeros;
    summary.macs += layer.macs;
    summary.effective_macs += layer.effective_macs;
    summary.tensor_bytes += layer.bytes;
    summary.layers.push_back(std::move(layer));
  }
  summary.weight_sparsity = weight_sparsity(model).sparsity();
  return summary;
}

nlohmann::json ModelSummary::to_json() const {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& l : layers)
    rows.push_back({{"name", l.name},
                    {"type", l.type},
                    {"output_shape", l.output_shape},
                    {"parameters", l.parameters},
                    {"nonzeros", l.nonzeros},
                    {"macs", l.macs},
                    {"effective_macs", l.effective_macs},
                    {"encodings", l.encodings},
                    {"formats", l.formats},
                    {"bits_per_weight", l.bits_per_weight},
                    {"bytes", l.bytes}});
  nlohmann::json json = {{"layers", rows},
                         {"parameters", parameters},
                         {"nonzeros", nonzeros},
                         {"macs", macs},
                         {"effective_macs", effective_macs},
                         {"weight_sparsity", weight_sparsity},
                         {"tensor_bytes", tensor_bytes}};
  if (file_bytes > 0) json["file_bytes"] = file_bytes;
  return json;
}

std::string ModelSummary::to_table() const {
  std::ostringstream out;
  char line[256];
  std::snprintf(line, sizeof line, "%-22s %-16s %-16s %10s %10s %-14s %6s %-22s %11s %10s\n",
                "layer", "type", "output", "params", "nonzeros", "format", "bits/w", "encoding", "bytes",
                "MACs");
  out << line;
  // Each distinct entry once: "quantized,dense".
  auto distinct = [](const std::vector<std::string>& entries) {
    std::string joined;
    for (size_t i = 0; i < entries.size(); ++i)
      if (std::find(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(i),
                    entries[i]) == entries.begin() + static_cast<std::ptrdiff_t>(i)) {
        if (!joined.empty()) joined += ',';
        joined += entries[i];
      }
    return joined.empty() ? std::string("-") : joined;
  };
  for (const auto& l : layers) {
    // The weight's (the node's first parameter) bits per weight; a bias is fp32 beside it.
    const std::string bits = l.bits_per_weight.empty() ? "-" : bits_text(l.bits_per_weight.front());
    std::snprintf(line, sizeof line, "%-22s %-16s %-16s %10lld %10lld %-14s %6s %-22s %11s %10s\n",
                  l.name.c_str(), l.type.c_str(), to_string(l.output_shape).c_str(),
                  static_cast<long long>(l.parameters), static_cast<long long>(l.nonzeros),
                  distinct(l.formats).c_str(), bits.c_str(), distinct(l.encodings).c_str(),
                  l.bytes ? format_bytes(static_cast<double>(l.bytes)).c_str() : "-",
                  l.macs ? format_count(static_cast<double>(l.macs)).c_str() : "-");
    out << line;
  }
  out << "\n";
  std::snprintf(line, sizeof line,
                "parameters %s (%s non-zero), weight sparsity %.1f%%, MACs %s (%s skipping zeros)\n",
                format_count(static_cast<double>(parameters)).c_str(),
                format_count(static_cast<double>(nonzeros)).c_str(), 100.0 * weight_sparsity,
                format_count(static_cast<double>(macs)).c_str(),
                format_count(static_cast<double>(effective_macs)).c_str());
  out << line;
  if (file_bytes > 0) {
    std::snprintf(line, sizeof line, "file %s (tensors %s)\n",
                  format_bytes(static_cast<double>(file_bytes)).c_str(),
                  format_bytes(static_cast<double>(tensor_bytes)).c_str());
    out << line;
  }
  return out.str();
}

}  // namespace shrink
