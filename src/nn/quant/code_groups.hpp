#pragma once
// Which elements of a quantized weight share one stored code. Every format stores one code per
// element, except product quantization (pq), whose code names a codeword for a whole
// sub-vector: `length` consecutive elements of a row of `row_length` (the last sub-vector of a
// row is shorter when `length` does not divide it). The file stores one code per group that
// holds a stored element (docs/file-format.md).
#include "shrink/nn/quantizer.hpp"

#include <cstdint>

namespace shrink::quant {

struct CodeGroups {
  int64_t row_length = 1;  // elements per row (the weight's first axis indexes rows)
  int64_t length = 1;      // elements per group; 1: one code per element

  int64_t per_row() const { return (row_length + length - 1) / length; }
  // The group of element i (row-major): groups are numbered row by row.
  int64_t group_of(int64_t i) const { return (i / row_length) * per_row() + (i % row_length) / length; }
};

// The groups of `quantizer`'s codes for a weight of `shape`.
CodeGroups code_groups(const Quantizer& quantizer, const Shape& shape);

// The code bits a weight of `shape` spends per element: bits() for one code per element; for
// pq, bits() times the sub-vectors over the elements (8-bit codes on d = 4: 2). Codebooks,
// sparse positions and entropy coding are not counted: this is the quantizer's rate.
inline double bits_per_element(const Quantizer& quantizer, const Shape& shape) {
  const CodeGroups groups = code_groups(quantizer, shape);
  const int64_t n = element_count(shape);
  if (groups.length == 1 || n == 0) return quantizer.bits();
  const int64_t codes = (n / groups.row_length) * groups.per_row();
  return static_cast<double>(quantizer.bits()) * static_cast<double>(codes) / static_cast<double>(n);
}

}  // namespace shrink::quant
