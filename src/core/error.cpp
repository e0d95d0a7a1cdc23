#include "shrink/core/error.hpp"

#include <cstdio>

namespace shrink {

std::string message_number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

}  // namespace shrink
