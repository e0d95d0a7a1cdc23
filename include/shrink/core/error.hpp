#pragma once
// One error type for the whole library. Its kind tells the CLI which exit code to use:
// bad input (the user can fix it) exits 2, an internal failure exits 1.
#include <stdexcept>
#include <string>

namespace shrink {

class Error : public std::exception {
 public:
  enum class Kind { BadInput, Internal };

  Error(Kind kind, std::string message) : kind_(kind), message_(std::move(message)) {}
  static Error bad_input(std::string message) { return {Kind::BadInput, std::move(message)}; }
  static Error internal(std::string message) { return {Kind::Internal, std::move(message)}; }

  Kind kind() const noexcept { return kind_; }
  const char* what() const noexcept override { return message_.c_str(); }

  // Prefixes where the error happened ("node conv1 (Conv2d)") as it travels up.
  Error& add_context(const std::string& where) {
    message_ = where + ": " + message_;
    return *this;
  }

 private:
  Kind kind_;
  std::string message_;
};

// Throws a bad-input Error with `message` when `condition` is false.
inline void require(bool condition, const std::string& message) {
  if (!condition) throw Error::bad_input(message);
}

// A number as messages print it: six significant digits ("0.95", "1e-05", "2.5e+54").
std::string message_number(double value);

}  // namespace shrink
