#pragma once
// Static work splits for OpenMP regions. Kernels split work by thread index themselves (rather
// than relying on a schedule clause) so per-thread partial sums can be reduced in a fixed order:
// the same thread count gives bit-identical results.
#include <cstdint>
#include <utility>

namespace shrink::kernels {

// The contiguous share [begin, end) of `count` items that thread `thread` of `threads` owns.
inline std::pair<int64_t, int64_t> thread_range(int64_t count, int thread, int threads) {
  const int64_t begin = count * thread / threads;
  const int64_t end = count * (thread + 1) / threads;
  return {begin, end};
}

// Below this many multiply-accumulates a parallel region costs more than it saves.
inline constexpr int64_t kParallelMacs = 1 << 15;

}  // namespace shrink::kernels
