#pragma once
// Switches users set in the environment to compare an optimisation with the plain path.
#include <string>

namespace shrink {

// The value of an "auto|off" switch: true when `variable` is unset, empty or "auto", false when
// it is "off"; any other value is a bad-input Error naming the variable and `what` it switches.
bool auto_or_off(const char* variable, const std::string& what);

}  // namespace shrink
