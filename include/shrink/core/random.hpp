#pragma once
// A small seeded generator whose streams are defined here (xoshiro256** with our own
// uniform/normal transforms), so a seed gives the same numbers on every platform and library.
#include <cstdint>
#include <vector>

namespace shrink {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0);
  uint64_t next_u64();
  float uniform(float low = 0.0f, float high = 1.0f);  // [low, high)
  float normal(float mean = 0.0f, float stddev = 1.0f);
  int64_t below(int64_t n);  // uniform integer in [0, n)
  // Fisher-Yates shuffle of `values`.
  void shuffle(std::vector<int64_t>& values);

 private:
  uint64_t state_[4];
};

}  // namespace shrink
