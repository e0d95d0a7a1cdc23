#pragma once
// Reads JSON options with defaults and rejects keys nobody read, so a misspelt option in a
// recipe or a flag is an error instead of a silent default. `owner` names who takes the options
// in messages: "pass prune.magnitude", "quantizer affine".
#include "shrink/core/error.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <type_traits>

namespace shrink {

class JsonOptions {
 public:
  JsonOptions(std::string owner, const nlohmann::json& options)
      : owner_(std::move(owner)),
        options_(options.is_null() ? nlohmann::json::object() : options) {
    require(options_.is_object(), owner_ + ": options must be a JSON object");
  }

  template <class T>
  T get(const std::string& key, const T& fallback) {
    known_.insert(key);
    if (!options_.contains(key)) return fallback;
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) return integer<T>(key);
    try {
      return options_[key].get<T>();
    } catch (const nlohmann::json::exception&) {
      throw Error::bad_input(owner_ + ": option '" + key + "' has the wrong type (" +
                             options_[key].dump() + ")");
    }
  }

  bool has(const std::string& key) const { return options_.contains(key); }

  // Call after reading every option.
  void finish() const {
    for (const auto& item : options_.items()) {
      if (known_.count(item.key())) continue;
      std::string list;
      for (const auto& k : known_) list += (list.empty() ? "" : ", ") + k;
      throw Error::bad_input(owner_ + ": unknown option '" + item.key() + "'; known options: " +
                             list);
    }
  }

 private:
  // An integer option, or a float with a whole value (256.0), in T's range: a conversion
  // outside it is undefined behaviour, and a fraction silently cut is a misread option.
  template <class T>
  T integer(const std::string& key) const {
    const nlohmann::json& v = options_.at(key);
    const auto lowest = static_cast<long double>(std::numeric_limits<T>::lowest());
    const auto highest = static_cast<long double>(std::numeric_limits<T>::max());
    long double value = 0;
    if (v.is_number_unsigned()) value = static_cast<long double>(v.get<uint64_t>());
    else if (v.is_number_integer()) value = static_cast<long double>(v.get<int64_t>());
    else if (v.is_number_float()) value = static_cast<long double>(v.get<double>());
    require(v.is_number() && std::isfinite(value) && value == std::trunc(value),
            owner_ + ": option '" + key + "' must be a whole number, got " + v.dump());
    require(value >= lowest && value <= highest,
            owner_ + ": option '" + key + "' is out of range (" + v.dump() + "; at most " +
                std::to_string(std::numeric_limits<T>::max()) + ")");
    return static_cast<T>(value);
  }

  std::string owner_;
  nlohmann::json options_;
  std::set<std::string> known_;
};

}  // namespace shrink
