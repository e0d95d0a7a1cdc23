#include "core/environment.hpp"

#include "shrink/core/error.hpp"

#include <cstdlib>

namespace shrink {

bool auto_or_off(const char* variable, const std::string& what) {
  const char* mode = std::getenv(variable);
  if (mode == nullptr || *mode == '\0' || std::string(mode) == "auto") return true;
  if (std::string(mode) == "off") return false;
  throw Error::bad_input(std::string(variable) + "=" + mode + " is not " + what +
                         " mode: auto (the default) or off");
}

}  // namespace shrink
