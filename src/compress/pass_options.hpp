#pragma once
// Reads a pass's JSON options with defaults, and rejects keys the pass does not know, so a
// misspelt option in a recipe is an error instead of a silent default.
#include "../core/json_options.hpp"  // relative, so tests reach this private header by path

#include <string>

namespace shrink {

class PassOptions : public JsonOptions {
 public:
  PassOptions(const std::string& pass, const nlohmann::json& options)
      : JsonOptions("pass " + pass, options) {}
};

}  // namespace shrink
