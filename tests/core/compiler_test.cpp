// The compiler's optimiser against values the code spells out. GCC 12 at -O2/-O3 with AVX-512
// (-march=native on an AVX-512 CPU, -march=x86-64-v4) lets the SLP vectorizer store some
// constant vectors as a broadcast of their first element: {1, 1, 1, 1, 0, 0, 0, 0} became eight
// ones. CMakeLists.txt turns that vectorizer off for GCC before 13; these cases fail without it.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace shrink {
namespace {

TEST(Compiler, KeepsConstantFloatVectorsAsWritten) {
  const std::vector<float> v{1, 1, 1, 1, 0, 0, 0, 0};
  EXPECT_EQ(v, (std::vector<float>{1, 1, 1, 1, 0, 0, 0, 0}));
  float sum = 0.0f;
  for (float x : v) sum += x;
  EXPECT_EQ(sum, 4.0f);
}

TEST(Compiler, KeepsConstantIntegerVectorsAsWritten) {
  const std::vector<int32_t> v{1, 1, 1, 1, 0, 0, 0, 0};
  int32_t sum = 0;
  for (int32_t x : v) sum += x;
  EXPECT_EQ(sum, 4);
}

TEST(Compiler, KeepsConstantArraysAsWritten) {
  const float a[8] = {1, 1, 1, 1, 0, 0, 0, 0};
  const std::vector<float> v(a, a + 8);
  float sum = 0.0f;
  for (float x : v) sum += x;
  EXPECT_EQ(sum, 4.0f);
}

}  // namespace
}  // namespace shrink
