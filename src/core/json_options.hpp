#pragma once
// Reads JSON options with defaults and rejects keys nobody read, so a misspelt option in a
// recipe or a flag is an error instead of a silent default. `owner` names who takes the options
// in messages: "pass prune.magnitude", "quantizer affine".
#include "shrink/core/error.hpp"

#include <nlohmann/json.hpp>

#include <set>
#include <string>

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
  std::string owner_;
  nlohmann::json options_;
  std::set<std::string> known_;
};

}  // namespace shrink
