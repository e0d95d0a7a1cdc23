// element_count: the one place a shape's size is computed, so the one place an overflowing
// shape from a file (.npy header, ONNX dims, .shrk header) is caught.
#include "shrink/core/tensor.hpp"

#include "support/errors.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace shrink {
namespace {

using testing::bad_input_message;

TEST(ElementCount, CountsAndAllowsEmptyShapes) {
  EXPECT_EQ(element_count({}), 1);
  EXPECT_EQ(element_count({3, 4, 5}), 60);
  EXPECT_EQ(element_count({0, int64_t{1} << 62, int64_t{1} << 62}), 0);  // no elements at all
  EXPECT_EQ(element_count({int64_t{1} << 20, int64_t{1} << 20, 1024}), int64_t{1} << 50);
}

TEST(ElementCount, RejectsCountsThatOverflowOrCannotBeStored) {
  // 2^60 * 784 wraps to 0 in int64 (784 = 49 * 16): exactly the silent "0 bytes" of a .npy.
  const std::string wrap = bad_input_message([] { element_count({int64_t{1} << 60, 784}); });
  EXPECT_NE(wrap.find("shape [1152921504606846976, 784] has more elements than"), std::string::npos)
      << wrap;
  // No overflow of the count itself, but its bytes at 8 per element would not fit in int64.
  bad_input_message([] { element_count({int64_t{1} << 61}); });
  bad_input_message([] { element_count({INT64_MAX, 2}); });
  const std::string negative = bad_input_message([] { element_count({2, -1}); });
  EXPECT_NE(negative.find("negative dimension"), std::string::npos) << negative;
  EXPECT_EQ(element_count({int64_t{1} << 59}), int64_t{1} << 59);  // the largest power of two
}

}  // namespace
}  // namespace shrink
