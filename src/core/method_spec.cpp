#include "shrink/core/method_spec.hpp"

#include "shrink/core/error.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace shrink {
namespace {

nlohmann::json scalar(const std::string& text) {
  if (text == "true") return true;
  if (text == "false") return false;
  errno = 0;
  char* end = nullptr;
  const double number = std::strtod(text.c_str(), &end);
  if (!text.empty() && end == text.c_str() + text.size() && errno == 0 && std::isfinite(number)) {
    // Whole numbers stay integers, so "bits=4" reads back as an int option.
    if (number == std::floor(number) && std::abs(number) < 9.0e15 &&
        text.find_first_of(".eE") == std::string::npos)
      return static_cast<int64_t>(number);
    return number;
  }
  return text;
}

}  // namespace

MethodSpec parse_method_spec(const std::string& flag, const std::string& text) {
  MethodSpec spec;
  const auto colon = text.find(':');
  spec.method = text.substr(0, colon);
  require(!spec.method.empty(), flag + " " + text + ": the method name is missing");
  if (colon == std::string::npos) return spec;
  const std::string args = text.substr(colon + 1);
  require(!args.empty(), flag + " " + text + ": nothing follows the ':'");
  size_t start = 0;
  while (start <= args.size()) {
    const auto comma = args.find(',', start);
    const std::string item = args.substr(start, comma == std::string::npos ? std::string::npos
                                                                           : comma - start);
    require(!item.empty(), flag + " " + text + ": an empty item between commas");
    const auto equals = item.find('=');
    if (equals == std::string::npos) {
      require(spec.value.is_null(), flag + " " + text + ": two values ('" + spec.value.dump() +
                                        "' and '" + item + "'); write the others as KEY=VALUE");
      spec.value = scalar(item);
    } else {
      const std::string key = item.substr(0, equals);
      require(!key.empty(), flag + " " + text + ": '" + item + "' has no key before '='");
      require(!spec.options.contains(key), flag + " " + text + ": '" + key + "' is given twice");
      spec.options[key] = scalar(item.substr(equals + 1));
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return spec;
}

}  // namespace shrink
