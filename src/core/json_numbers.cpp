#include "shrink/core/json_numbers.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace shrink {
namespace {

double shortest(double value) {
  const float narrow = static_cast<float>(value);
  if (!std::isfinite(value) || static_cast<double>(narrow) != value) return value;
  // to_chars without a precision writes the fewest digits that read back as the same float.
  char text[64];
  const auto [end, error] = std::to_chars(text, text + sizeof text - 1, narrow);
  if (error != std::errc()) return value;
  *end = '\0';
  return std::strtod(text, nullptr);
}

void shorten(nlohmann::json& json) {
  if (json.is_number_float()) {
    json = shortest(json.get<double>());
  } else if (json.is_structured()) {
    for (auto& item : json) shorten(item);
  }
}

}  // namespace

nlohmann::json with_short_floats(nlohmann::json json) {
  shorten(json);
  return json;
}

}  // namespace shrink
