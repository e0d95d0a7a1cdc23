#pragma once
// The thread count every benchmark here runs with: SHRINK_THREADS, 2 when unset.
#include <cstdlib>

namespace shrink {

inline int bench_threads() {
  const char* env = std::getenv("SHRINK_THREADS");
  return env ? std::atoi(env) : 2;
}

}  // namespace shrink
