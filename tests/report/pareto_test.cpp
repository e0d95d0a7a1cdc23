// The Pareto front of (x, y) results in each direction of "better".
#include "shrink/report/pareto.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace shrink {
namespace {

TEST(Pareto, SmallerAndMoreAccurate) {
  // size, accuracy
  const std::vector<double> size = {100, 50, 50, 20, 80, 10, 30};
  const std::vector<double> accuracy = {0.90, 0.89, 0.85, 0.80, 0.88, 0.60, 0.80};
  // 4 (80, .88) is beaten by 1 (50, .89); 2 by 1; 6 (30, .80) by 3 (20, .80).
  EXPECT_EQ(pareto_front(size, accuracy, Better::Lower, Better::Higher),
            (std::vector<size_t>{5, 3, 1, 0}));
}

TEST(Pareto, EveryDirection) {
  const std::vector<double> x = {1, 2, 3};
  const std::vector<double> y = {1, 3, 2};
  EXPECT_EQ(pareto_front(x, y, Better::Higher, Better::Higher), (std::vector<size_t>{1, 2}));
  EXPECT_EQ(pareto_front(x, y, Better::Lower, Better::Lower), (std::vector<size_t>{0}));
  EXPECT_EQ(pareto_front(x, y, Better::Lower, Better::Higher), (std::vector<size_t>{0, 1}));
  EXPECT_EQ(pareto_front(x, y, Better::Higher, Better::Lower), (std::vector<size_t>{0, 2}));
}

TEST(Pareto, EqualPointsAreAllKeptAndNonFiniteNever) {
  const std::vector<double> x = {1, 1, 2, NAN, 0};
  const std::vector<double> y = {5, 5, 6, 9, INFINITY};
  EXPECT_EQ(pareto_front(x, y, Better::Lower, Better::Higher), (std::vector<size_t>{0, 1, 2}));
  EXPECT_TRUE(pareto_front({}, {}, Better::Lower, Better::Higher).empty());
}

TEST(Pareto, MatchesBruteForceOnRandomPoints) {
  uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>((state >> 33) % 20);  // many ties
  };
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<double> x(30), y(30);
    for (size_t i = 0; i < x.size(); ++i) x[i] = next(), y[i] = next();
    const auto front = pareto_front(x, y, Better::Lower, Better::Higher);
    std::vector<size_t> expected;
    for (size_t i = 0; i < x.size(); ++i) {
      bool dominated = false;
      for (size_t j = 0; j < x.size(); ++j)
        dominated |= x[j] <= x[i] && y[j] >= y[i] && (x[j] < x[i] || y[j] > y[i]);
      if (!dominated) expected.push_back(i);
    }
    std::vector<size_t> sorted = front;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, expected);
  }
}

}  // namespace
}  // namespace shrink
