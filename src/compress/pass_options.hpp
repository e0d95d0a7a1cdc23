#pragma once
// Reads a pass's JSON options with defaults, and rejects keys the pass does not know, so a
// misspelt option in a recipe is an error instead of a silent default.
#include "shrink/core/error.hpp"

#include <nlohmann/json.hpp>

#include <set>
#include <string>

namespace shrink {

class PassOptions {
 public:
  PassOptions(std::string pass, const nlohmann::json& options)
      : pass_(std::move(pass)), options_(options.is_null() ? nlohmann::json::object() : options) {
    require(options_.is_object(), "pass " + pass_ + ": options must be a JSON object");
  }

  template <class T>
  T get(const std::string& key, const T& fallback) {
    known_.insert(key);
    if (!options_.contains(key)) return fallback;
    try {
      return options_[key].get<T>();
    } catch (const nlohmann::json::exception&) {
      throw Error::bad_input("pass " + pass_ + ": option '" + key + "' has the wrong type (" +
                             options_[key].dump() + ")");
    }
  }

  // Call after reading every option.
  void finish() const {
    for (const auto& item : options_.items()) {
      if (known_.count(item.key())) continue;
      std::string list;
      for (const auto& k : known_) list += (list.empty() ? "" : ", ") + k;
      throw Error::bad_input("pass " + pass_ + ": unknown option '" + item.key() +
                             "'; known options: " + list);
    }
  }

 private:
  std::string pass_;
  nlohmann::json options_;
  std::set<std::string> known_;
};

}  // namespace shrink
