#include "../../src/core/json_options.hpp"

#include "support/errors.hpp"

#include <gtest/gtest.h>

namespace shrink {
namespace {

using testing::bad_input_message;

int64_t read_k(const nlohmann::json& options) {
  JsonOptions reader("quantizer pq", options);
  return reader.get<int64_t>("k", 256);
}

TEST(JsonOptions, IntegerOptionsTakeWholeNumbers) {
  EXPECT_EQ(read_k({}), 256);
  EXPECT_EQ(read_k({{"k", 16}}), 16);
  EXPECT_EQ(read_k({{"k", 16.0}}), 16);  // a whole number written as a float
  EXPECT_EQ(read_k({{"k", -3}}), -3);    // the range is the caller's to check
}

// A number past int64 (a double in JSON) was converted to an integer: undefined behaviour, the
// class of a fuzzer find (tests/fixtures/fuzz/recipe/option-integer-past-int64).
TEST(JsonOptions, IntegerOptionsOutsideTheirTypeAreOneClearError) {
  EXPECT_NE(bad_input_message([] { read_k({{"k", 2.02221e54}}); }).find("option 'k' is out of range"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] { read_k({{"k", uint64_t{1} << 63}}); }).find("out of range"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] { read_k({{"k", 2.5}}); }).find("option 'k' must be a whole number, got 2.5"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] { read_k({{"k", "eight"}}); }).find("must be a whole number"),
            std::string::npos);
  const auto narrow = [] {
    JsonOptions reader("pass prune.magnitude", {{"steps", int64_t{1} << 40}});
    reader.get<int>("steps", 1);
  };
  EXPECT_NE(bad_input_message(narrow).find("at most 2147483647"), std::string::npos);
}

}  // namespace
}  // namespace shrink
