// The quantization passes that only attach a quantizer to each weight: quant.affine,
// quant.fp16, quant.bf16, quant.ternary, quant.kmeans and quant.pq. Options beyond the shared ones (quantize_pass.hpp)
// are the weight format's (include/shrink/nn/quantizer.hpp, docs/quantization.md).
#include "compress/passes.hpp"
#include "compress/quant/quantize_pass.hpp"

namespace shrink {

std::unique_ptr<Pass> make_affine_pass(const nlohmann::json& options) {
  return std::make_unique<QuantizePass>(QuantizePassTraits{"affine", true, false}, options);
}

std::unique_ptr<Pass> make_fp16_pass(const nlohmann::json& options) {
  return std::make_unique<QuantizePass>(QuantizePassTraits{"fp16", false, false}, options);
}

std::unique_ptr<Pass> make_bf16_pass(const nlohmann::json& options) {
  return std::make_unique<QuantizePass>(QuantizePassTraits{"bf16", false, false}, options);
}

// Ternary networks keep their first and last layers at 8 bits unless told otherwise (TWN and
// TTQ both leave them in full precision; 8 bits costs almost nothing more).
std::unique_ptr<Pass> make_ternary_pass(const nlohmann::json& options) {
  return std::make_unique<QuantizePass>(QuantizePassTraits{"ternary", false, true}, options);
}

// Deep Compression's weight sharing: the format picks 8 bits for convolutions and 5 for fully
// connected layers unless "bits" or "layer_bits" say otherwise.
std::unique_ptr<Pass> make_kmeans_pass(const nlohmann::json& options) {
  return std::make_unique<QuantizePass>(QuantizePassTraits{"kmeans", true, false}, options);
}

// Product quantization: "bits" (or "layer_bits") sets the codebook size k = 2^bits.
std::unique_ptr<Pass> make_pq_pass(const nlohmann::json& options) {
  return std::make_unique<QuantizePass>(QuantizePassTraits{"pq", true, false}, options);
}

}  // namespace shrink
