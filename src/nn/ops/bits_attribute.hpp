#pragma once
// The `bits` attribute of DoReFa's quantizing ops: a whole number of bits from 1 to 16.
#include "nn/kernels/attributes.hpp"
#include "shrink/core/error.hpp"

#include <optional>
#include <string>

namespace shrink::ops {

inline int64_t read_bits_attribute(const nlohmann::json& attributes, const std::string& op) {
  constexpr int64_t kMaxBits = 16;
  const int64_t bits = kernels::read_int(attributes, op, "bits", std::nullopt, 1);
  require(bits <= kMaxBits, op + ": attribute 'bits' must be at most 16, got " + std::to_string(bits));
  return bits;
}

}  // namespace shrink::ops
