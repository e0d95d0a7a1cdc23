#pragma once
// Axis and attribute helpers of the ONNX-style ops (shape ops, LogSoftmax, Concat): negative
// axes count from the end as in ONNX, and the batch axis 0 is never a legal target, because every
// value in a Model is batch-first and the batch size changes between build time and run time.
#include "shrink/core/error.hpp"
#include "shrink/core/tensor.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace shrink::ops {

// Maps an ONNX axis (negative counts from the end) into [0, rank); throws naming the op.
inline int64_t normalize_axis(const std::string& op, const char* what, int64_t axis,
                              int64_t rank, const Shape& shape) {
  const int64_t resolved = axis < 0 ? axis + rank : axis;
  require(resolved >= 0 && resolved < rank,
          op + ": " + what + " " + std::to_string(axis) + " is out of range for rank " +
              std::to_string(rank) + " (input " + to_string(shape) + ")");
  return resolved;
}

// ONNX writes booleans as ints (allowzero = 1); accept both spellings.
inline bool json_flag(const nlohmann::json& attributes, const char* name, bool fallback) {
  if (!attributes.contains(name)) return fallback;
  const auto& value = attributes.at(name);
  if (value.is_boolean()) return value.get<bool>();
  if (value.is_number_integer()) return value.get<int64_t>() != 0;
  throw Error::bad_input(std::string("attribute '") + name + "' must be a boolean, got " +
                         value.dump());
}

inline std::vector<int64_t> json_ints(const nlohmann::json& attributes, const char* name) {
  const auto& value = attributes.at(name);
  bool integers = value.is_array();
  for (const auto& v : value) integers = integers && v.is_number_integer();
  if (!integers)
    throw Error::bad_input(std::string("attribute '") + name + "' must be a list of integers, got " +
                           value.dump());
  return value.get<std::vector<int64_t>>();
}

inline std::string shapes_to_string(const std::vector<Shape>& shapes) {
  std::string s;
  for (const Shape& shape : shapes) s += (s.empty() ? "" : ", ") + to_string(shape);
  return s;
}

}  // namespace shrink::ops
