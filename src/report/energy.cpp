#include "shrink/report/energy.hpp"

#include "shrink/core/error.hpp"

#include <algorithm>

namespace shrink {
namespace {

// Ops that only relabel their input's memory in inference: no arithmetic, no traffic.
bool is_view(const std::string& type) {
  static const char* const kViews[] = {"Flatten", "Reshape", "Identity", "Dropout", "Squeeze", "Unsqueeze"};
  return std::any_of(std::begin(kViews), std::end(kViews), [&](const char* v) { return type == v; });
}

int64_t elements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// The precision a weight's quantizer gives its layer's arithmetic. Formats whose values are
// integers times a scale (per tensor or channel) multiply as integers of their bits; fp16 and
// bf16 as 16-bit floats; codebook formats (k-means, product quantization) hold fp32 values —
// their codes are indices — so they multiply in fp32 and save only stored bytes.
void set_weight_precision(const Quantizer& quantizer, LayerPrecision& precision) {
  static const char* const kIntegerGrid[] = {"affine", "binary", "ternary", "dorefa", "pow2"};
  static const char* const kHalf[] = {"fp16", "bf16"};
  const std::string format = quantizer.format().name;
  auto among = [&](const auto& names) {
    return std::any_of(std::begin(names), std::end(names), [&](const char* n) { return format == n; });
  };
  precision.weight_format = format;
  precision.weight_integer = among(kIntegerGrid);
  precision.weight_bits = precision.weight_integer ? quantizer.bits() : among(kHalf) ? 16 : 32;
}

// A layer's activations are integers when its input comes out of a DequantizeLinear (int8 QDQ:
// a deployment runs the layer on the codes) or a DoReFa activation quantizer.
void set_activation_precision(const Model& model, const Node& node, LayerPrecision& precision) {
  if (node.inputs.empty()) return;
  const Node* producer = nullptr;
  for (const Node& candidate : model.nodes())
    if (candidate.name == node.inputs[0]) producer = &candidate;
  if (producer == nullptr) return;
  const std::string type = producer->op->type();
  const nlohmann::json attributes = producer->op->attributes();
  if (type == "DequantizeLinear") {
    precision.activation_format = attributes.value("type", std::string("uint8"));
    precision.activation_bits = 8;
    precision.activation_integer = true;
  } else if (type == "DoReFaQuantize") {
    precision.activation_format = "dorefa";
    precision.activation_bits = attributes.value("bits", 32);
    precision.activation_integer = true;
  }
}

const char* const kMethod =
    "modelled: MACs (pruned weights skipped) and other operations by arithmetic, weights read "
    "from DRAM once and activations through SRAM, priced with Horowitz's 45 nm table (ISSCC 2014); "
    "batch 1";

}  // namespace

nlohmann::json EnergyTable::to_json() const {
  return {{"unit", "pJ"},
          {"source", "Horowitz, Computing's energy problem, ISSCC 2014, 45 nm"},
          {"fp32_multiply", fp32_multiply}, {"fp32_add", fp32_add},
          {"fp16_multiply", fp16_multiply}, {"fp16_add", fp16_add},
          {"int8_multiply", int8_multiply}, {"int8_add", int8_add},
          {"int32_multiply", int32_multiply}, {"int32_add", int32_add},
          {"sram_read_32bit", sram_read_32bit}, {"dram_32bit", dram_32bit}};
}

std::string to_string(Arithmetic arithmetic) {
  switch (arithmetic) {
    case Arithmetic::Fp16: return "fp16";
    case Arithmetic::Int8: return "int8";
    case Arithmetic::Int32: return "int32";
    default: return "fp32";
  }
}

Arithmetic LayerPrecision::arithmetic() const {
  if (activation_integer) {
    if (!weight_integer) return Arithmetic::Fp32;  // float weights need float arithmetic
    return std::max(weight_bits, activation_bits) <= 8 ? Arithmetic::Int8 : Arithmetic::Int32;
  }
  const bool weight_half = weight_integer ? weight_bits <= 11 : weight_bits <= 16;  // exact in fp16
  return activation_bits <= 16 && weight_half ? Arithmetic::Fp16 : Arithmetic::Fp32;
}

nlohmann::json LayerPrecision::to_json() const {
  return {{"weights", weight_format}, {"weight_bits", weight_bits},
          {"activations", activation_format}, {"activation_bits", activation_bits},
          {"arithmetic", to_string(arithmetic())}};
}

LayerEnergy layer_energy(const LayerWork& work, const EnergyTable& table) {
  double multiply = table.fp32_multiply, add = table.fp32_add, accumulate = table.fp32_add;
  switch (work.precision.arithmetic()) {
    case Arithmetic::Fp16: multiply = table.fp16_multiply, add = accumulate = table.fp16_add; break;
    case Arithmetic::Int8:
      multiply = table.int8_multiply, add = table.int8_add, accumulate = table.int32_add;
      break;
    case Arithmetic::Int32: multiply = table.int32_multiply, add = accumulate = table.int32_add; break;
    case Arithmetic::Fp32: break;
  }
  LayerEnergy energy;
  energy.work = work;
  energy.compute_pj = static_cast<double>(work.macs) * (multiply + accumulate) +
                      static_cast<double>(work.other_operations) * add;
  energy.weight_memory_pj = static_cast<double>(work.weight_bytes) / 4.0 * table.dram_32bit;
  energy.activation_memory_pj = static_cast<double>(work.activation_elements) *
                                work.precision.activation_bits / 32.0 * table.sram_read_32bit;
  return energy;
}

nlohmann::json InferenceEnergy::to_json() const {
  int64_t macs = 0;
  nlohmann::json rows = nlohmann::json::array();
  for (const LayerEnergy& layer : layers) {
    macs += layer.work.macs;
    rows.push_back({{"name", layer.name},
                    {"type", layer.type},
                    {"precision", layer.work.precision.to_json()},
                    {"macs", layer.work.macs},
                    {"weight_bytes", layer.work.weight_bytes},
                    {"joules", layer.total_pj() * 1e-12}});
  }
  return {{"joules", joules()},
          {"compute_joules", compute_pj * 1e-12},
          {"weight_memory_joules", weight_memory_pj * 1e-12},
          {"activation_memory_joules", activation_memory_pj * 1e-12},
          {"macs", macs},
          {"modelled", true},
          {"method", kMethod},
          {"layers", rows}};
}

InferenceEnergy inference_energy(const Model& model, const ModelSummary& summary,
                                 const EnergyTable& table) {
  if (summary.layers.size() != model.nodes().size())
    throw Error::internal("inference_energy: the summary is not of this model");
  InferenceEnergy total;
  total.table = table;
  for (size_t i = 0; i < model.nodes().size(); ++i) {
    const Node& node = model.nodes()[i];
    const LayerSummary& layer = summary.layers[i];
    LayerWork work;
    // Stored bytes already count sparse and quantized encodings through the summary; the
    // precision says which arithmetic the MACs cost and how wide the activations are.
    work.precision = LayerPrecision{};
    for (const std::string& name : node.parameters) {
      const Parameter& parameter = model.parameter(name);
      if (!parameter.quantized()) continue;
      set_weight_precision(*parameter.quantizer(), work.precision);
      break;  // the weight (specs list it first); a bias stays wide
    }
    set_activation_precision(model, node, work.precision);
    work.macs = layer.effective_macs;
    work.weight_bytes = layer.bytes;
    if (!is_view(layer.type)) {
      const int64_t output = elements(node.output_shape);
      if (layer.macs == 0) work.other_operations = output;
      work.activation_elements = output;
      for (const Shape& input : model.input_shapes(node, 1)) work.activation_elements += elements(input);
    }
    LayerEnergy energy = layer_energy(work, table);
    energy.name = node.name;
    energy.type = layer.type;
    total.compute_pj += energy.compute_pj;
    total.weight_memory_pj += energy.weight_memory_pj;
    total.activation_memory_pj += energy.activation_memory_pj;
    total.layers.push_back(std::move(energy));
  }
  return total;
}

}  // namespace shrink
