#pragma once
// Reading op attributes (JSON) with messages that name the op and the attribute. Shared by the
// windowed ops (Conv2d and the pools), whose sizes are an int or an [h, w] pair like PyTorch's.
#include "shrink/core/error.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

namespace shrink::kernels {

using Pair = std::array<int64_t, 2>;

// Rejects keys the op does not know, so a misspelt attribute is an error, not a silent default.
inline void check_attribute_keys(const nlohmann::json& attributes, const std::string& op,
                                 std::initializer_list<const char*> known) {
  if (!(attributes.is_object()))
      throw Error::bad_input(op + ": attributes must be a JSON object, got " +
                                      attributes.dump());
  for (const auto& item : attributes.items()) {
    bool found = false;
    std::string list;
    for (const char* k : known) {
      found = found || item.key() == k;
      list += (list.empty() ? "" : ", ") + std::string(k);
    }
    if (!(found))
      throw Error::bad_input(op + ": unknown attribute '" + item.key() + "'; known attributes: " + list);
  }
}

inline int64_t read_int(const nlohmann::json& attributes, const std::string& op,
                        const char* key, std::optional<int64_t> fallback, int64_t minimum) {
  if (!attributes.contains(key)) {
    if (!(fallback.has_value()))
      throw Error::bad_input(op + ": attribute '" + std::string(key) + "' is required");
    return *fallback;
  }
  const auto& v = attributes.at(key);
  if (!(v.is_number_integer()))
      throw Error::bad_input(op + ": attribute '" + std::string(key) +
                                     "' must be an integer, got " + v.dump());
  const int64_t value = v.get<int64_t>();
  if (!(value >= minimum))
      throw Error::bad_input(op + ": attribute '" + std::string(key) + "' must be at least " +
                                std::to_string(minimum) + ", got " + std::to_string(value));
  return value;
}

inline bool read_bool(const nlohmann::json& attributes, const std::string& op, const char* key,
                      bool fallback) {
  if (!attributes.contains(key)) return fallback;
  const auto& v = attributes.at(key);
  if (!(v.is_boolean()))
      throw Error::bad_input(op + ": attribute '" + std::string(key) +
                              "' must be true or false, got " + v.dump());
  return v.get<bool>();
}

// An int (used for both axes) or an [h, w] pair.
inline Pair read_pair(const nlohmann::json& attributes, const std::string& op, const char* key,
                      std::optional<Pair> fallback, int64_t minimum) {
  if (!attributes.contains(key)) {
    if (!(fallback.has_value()))
      throw Error::bad_input(op + ": attribute '" + std::string(key) + "' is required");
    return *fallback;
  }
  const auto& v = attributes.at(key);
  Pair pair{};
  if (v.is_number_integer()) {
    pair = {v.get<int64_t>(), v.get<int64_t>()};
  } else {
    if (!(v.is_array() && v.size() == 2 && v[0].is_number_integer() &&
                v[1].is_number_integer()))
      throw Error::bad_input(op + ": attribute '" + std::string(key) + "' must be an integer or [h, w], got " +
                v.dump());
    pair = {v[0].get<int64_t>(), v[1].get<int64_t>()};
  }
  if (!(pair[0] >= minimum && pair[1] >= minimum))
      throw Error::bad_input(op + ": attribute '" + std::string(key) + "' must be at least " +
              std::to_string(minimum) + ", got " + v.dump());
  return pair;
}

inline nlohmann::json pair_json(const Pair& pair) { return nlohmann::json::array({pair[0], pair[1]}); }

}  // namespace shrink::kernels
