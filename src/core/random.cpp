#include "shrink/core/random.hpp"

#include <cmath>
#include <utility>

namespace shrink {
namespace {

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

Rng::Rng(uint64_t seed) {
  for (auto& s : state_) s = splitmix64(seed);
}

uint64_t Rng::next_u64() {
  const uint64_t result = rotl(state_[1] * 5, 7) * 9;
  const uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotl(state_[3], 45);
  return result;
}

float Rng::uniform(float low, float high) {
  // 24 random bits give every representable float in [0, 1) with a step of 2^-24.
  const float unit = static_cast<float>(next_u64() >> 40) * (1.0f / 16777216.0f);
  return low + (high - low) * unit;
}

float Rng::normal(float mean, float stddev) {
  // Box-Muller; u1 is kept away from zero so the log is finite.
  const double u1 = (static_cast<double>(next_u64() >> 11) + 1.0) * (1.0 / 9007199254740993.0);
  const double u2 = static_cast<double>(next_u64() >> 11) * (1.0 / 9007199254740992.0);
  const double r = std::sqrt(-2.0 * std::log(u1));
  return mean + stddev * static_cast<float>(r * std::cos(2.0 * M_PI * u2));
}

int64_t Rng::below(int64_t n) {
  return n <= 1 ? 0 : static_cast<int64_t>(next_u64() % static_cast<uint64_t>(n));
}

void Rng::shuffle(std::vector<int64_t>& values) {
  for (int64_t i = static_cast<int64_t>(values.size()) - 1; i > 0; --i)
    std::swap(values[static_cast<size_t>(i)], values[static_cast<size_t>(below(i + 1))]);
}

}  // namespace shrink
