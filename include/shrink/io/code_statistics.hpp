#pragma once
// How close a quantized weight's storage comes to the entropy of what it stores: the empirical
// entropy of its codes (codebook indices) and of its sparse index gaps, for reports to set
// against the bytes the file spends (docs/file-format.md, the Huffman encodings).
#include "shrink/nn/parameter.hpp"

#include <cstdint>
#include <optional>

namespace shrink {

struct CodeStatistics {
  int64_t codes = 0;               // stored (kept) codes
  double code_entropy_bits = 0.0;  // their empirical entropy, for the whole sequence
  int64_t gaps = 0;                // delta8 gap symbols of a masked weight (fillers included), else 0
  double gap_entropy_bits = 0.0;
  // The lower bound on the bytes of codes and positions an order-0 entropy coder could reach.
  double entropy_bytes() const { return (code_entropy_bits + gap_entropy_bits) / 8.0; }
};

// For a quantized parameter with codes of at most 8 bits; nullopt otherwise.
std::optional<CodeStatistics> code_statistics(const Parameter& parameter);

// The bytes the parameter would take in the smallest encoding that is not entropy-coded (the
// size before Deep Compression's Huffman stage); its chosen encoding's bytes when that is one.
int64_t bytes_without_entropy_coding(const Parameter& parameter);

}  // namespace shrink
