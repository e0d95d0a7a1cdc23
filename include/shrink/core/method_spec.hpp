#pragma once
// The compact "METHOD[:ARGS]" form that command-line flags use for a method and its options:
//   magnitude:0.9            -> method "magnitude", value 0.9
//   affine:4,per_channel=1   -> method "affine", value 4, options {"per_channel": 1}
//   kd:T=4,alpha=0.9         -> method "kd", options {"T": 4, "alpha": 0.9}
//   percentile:99.99         -> method "percentile", value 99.99
// ARGS is a comma-separated list; at most one item has no '=' and becomes the value. Values
// that read as numbers become numbers, true/false become booleans, the rest stay strings.
#include <nlohmann/json.hpp>

#include <string>

namespace shrink {

struct MethodSpec {
  std::string method;
  nlohmann::json value;    // null when not given
  nlohmann::json options = nlohmann::json::object();
};

// `flag` names the flag in error messages ("--prune"). Throws a bad-input Error for an empty
// method, an empty item, a key given twice or two values.
MethodSpec parse_method_spec(const std::string& flag, const std::string& text);

}  // namespace shrink
