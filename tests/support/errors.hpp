#pragma once
// The message of an error a test expects: fails the test when nothing (or the wrong kind) is
// thrown, and returns the text for the test to check.
#include "shrink/core/error.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>

namespace shrink::testing {

// The message of the shrink::Error `body` throws; fails the test if it throws nothing.
inline std::string error_message(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a shrink::Error";
  return "";
}

// As error_message, and the error must be a bad-input one.
inline std::string bad_input_message(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::BadInput) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected a shrink::Error";
  return "";
}

}  // namespace shrink::testing
