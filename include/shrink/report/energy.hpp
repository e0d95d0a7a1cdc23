#pragma once
// A model's energy per inference, modelled from its operations by precision and its memory
// traffic with a per-operation energy table, so that pruned MACs, fewer bits and smaller
// stored weights all show up in joules. It is a model of an accelerator in the spirit of
// Horowitz's table, not a measurement of this CPU: reports say so next to the figure.
//
// Per layer, for one inference (batch 1):
//   compute        = MACs (skipping pruned weights) x E_mac(arithmetic)
//                  + other operations (one per output element of a node without MACs:
//                    activation, pooling, normalization, addition) x E_add(arithmetic)
//   weight memory  = bytes of the layer's tensors as stored / 4 x E_dram(32 bit)
//                    (weights stream from DRAM once per inference)
//   activations    = (input + output elements) x activation bits / 32 x E_sram(32 bit)
// where E_mac is a multiply plus an add of the arithmetic the layer runs in, except int8,
// which accumulates in 32 bits (int8 multiply + int32 add).
#include "shrink/nn/model.hpp"
#include "shrink/report/summary.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace shrink {

// Energy per operation in picojoules. Defaults: Horowitz, "Computing's energy problem (and
// what we can do about it)", ISSCC 2014, 45 nm at 0.9 V.
struct EnergyTable {
  double fp32_multiply = 3.7;
  double fp32_add = 0.9;
  double fp16_multiply = 1.1;
  double fp16_add = 0.4;
  double int8_multiply = 0.2;
  double int8_add = 0.03;
  double int32_multiply = 3.1;
  double int32_add = 0.1;
  double sram_read_32bit = 5.0;  // 8 KB SRAM
  double dram_32bit = 640.0;

  nlohmann::json to_json() const;
};

// The arithmetic a layer's multiply-accumulates run in.
enum class Arithmetic { Fp32, Fp16, Int8, Int32 };
std::string to_string(Arithmetic arithmetic);

// How a layer's weights are stored and its activations flow.
struct LayerPrecision {
  std::string weight_format = "fp32";  // "fp32", or the weight's quantizer format
  int weight_bits = 32;
  bool weight_integer = false;  // the weight's values lie on an integer grid (times a scale)
  std::string activation_format = "fp32";
  int activation_bits = 32;
  bool activation_integer = false;

  // Float activations run in float (integer or low-precision weights are dequantized first):
  // fp16 when both sides are 16-bit floats or narrower, fp32 otherwise. Integer activations
  // with integer weights run in int8 when both have at most 8 bits, in int32 otherwise.
  Arithmetic arithmetic() const;
  nlohmann::json to_json() const;
};

// What one layer does in one inference.
struct LayerWork {
  int64_t macs = 0;                 // multiply-accumulates, pruned weights skipped
  int64_t other_operations = 0;     // elementwise work of nodes without MACs
  int64_t weight_bytes = 0;         // the layer's tensors as stored
  int64_t activation_elements = 0;  // inputs read + output written
  LayerPrecision precision;
};

struct LayerEnergy {
  std::string name;
  std::string type;
  LayerWork work;
  double compute_pj = 0;
  double weight_memory_pj = 0;
  double activation_memory_pj = 0;
  double total_pj() const { return compute_pj + weight_memory_pj + activation_memory_pj; }
};

// The energy of one layer's work: a pure function of the counts and the table.
LayerEnergy layer_energy(const LayerWork& work, const EnergyTable& table = {});

struct InferenceEnergy {
  std::vector<LayerEnergy> layers;
  double compute_pj = 0;
  double weight_memory_pj = 0;
  double activation_memory_pj = 0;
  EnergyTable table;

  double total_pj() const { return compute_pj + weight_memory_pj + activation_memory_pj; }
  double joules() const { return total_pj() * 1e-12; }
  // {"joules", "compute_joules", "weight_memory_joules", "activation_memory_joules", "macs",
  //  "modelled": true, "method", "layers": [{"name", "type", "precision", "arithmetic",
  //  "macs", "weight_bytes", "joules"}]}
  nlohmann::json to_json() const;
};

// The model's energy per inference. `summary` gives each node's effective MACs and stored
// bytes (summarize() with the file's storage, so sparse and quantized encodings count).
InferenceEnergy inference_energy(const Model& model, const ModelSummary& summary,
                                 const EnergyTable& table = {});

}  // namespace shrink
