#pragma once

namespace shrink {

inline constexpr const char* kVersion = "0.1.0";
inline constexpr const char* kProducerName = "shrink";

}  // namespace shrink
