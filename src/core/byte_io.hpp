#pragma once
// Little-endian numbers for the file formats: appenders that write into a byte string, and a
// reader over a byte view that checks every read against the bytes left and names the field it
// was reading when they run out. Floats are IEEE-754 binary32 written as their bits.
#include "shrink/core/error.hpp"

#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

namespace shrink::bytes {

static_assert(std::numeric_limits<float>::is_iec559 && sizeof(float) == 4);
static_assert(std::numeric_limits<unsigned char>::digits == 8);

inline void put_u8(std::string& out, uint8_t value) { out.push_back(static_cast<char>(value)); }

inline void put_u32(std::string& out, uint32_t value) {
  const char bytes[4] = {static_cast<char>(value), static_cast<char>(value >> 8),
                         static_cast<char>(value >> 16), static_cast<char>(value >> 24)};
  out.append(bytes, 4);
}

inline uint32_t get_u32(const char* bytes) {
  const auto* b = reinterpret_cast<const unsigned char*>(bytes);
  return uint32_t{b[0]} | uint32_t{b[1]} << 8 | uint32_t{b[2]} << 16 | uint32_t{b[3]} << 24;
}

inline void put_f32(std::string& out, float value) { put_u32(out, std::bit_cast<uint32_t>(value)); }
inline float get_f32(const char* bytes) { return std::bit_cast<float>(get_u32(bytes)); }

// `count` floats; a plain copy on little-endian machines.
inline void put_f32_array(std::string& out, const float* values, int64_t count) {
  if constexpr (std::endian::native == std::endian::little) {
    out.append(reinterpret_cast<const char*>(values), static_cast<size_t>(count * 4));
  } else {
    for (int64_t i = 0; i < count; ++i) put_f32(out, values[i]);
  }
}

inline void get_f32_array(const char* bytes, float* values, int64_t count) {
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(values, bytes, static_cast<size_t>(count * 4));
  } else {
    for (int64_t i = 0; i < count; ++i) values[i] = get_f32(bytes + i * 4);
  }
}

// Reads fields front to back; running past the end is a bad-input Error such as
// "affine state ends before its scales (needs 40 bytes, 12 left)".
class Reader {
 public:
  Reader(std::string_view bytes, std::string what) : bytes_(bytes), what_(std::move(what)) {}

  uint8_t u8(const char* field) { return static_cast<uint8_t>(take(1, field)[0]); }
  uint32_t u32(const char* field) { return get_u32(take(4, field).data()); }
  float f32(const char* field) { return get_f32(take(4, field).data()); }
  void f32_array(float* values, int64_t count, const char* field) {
    get_f32_array(take(count * 4, field).data(), values, count);
  }
  std::string_view take(int64_t count, const char* field) {
    require(count >= 0 && count <= remaining(),
            what_ + " ends before its " + field + " (needs " + std::to_string(count) +
                " bytes, " + std::to_string(remaining()) + " left)");
    const std::string_view part = bytes_.substr(static_cast<size_t>(at_), static_cast<size_t>(count));
    at_ += count;
    return part;
  }

  int64_t position() const { return at_; }
  int64_t remaining() const { return static_cast<int64_t>(bytes_.size()) - at_; }
  const std::string& what() const { return what_; }
  // Every byte must have been read: trailing bytes mean the writer and reader disagree.
  void finish() const {
    require(remaining() == 0, what_ + " has " + std::to_string(remaining()) +
                                  " bytes more than its fields use");
  }

 private:
  std::string_view bytes_;
  std::string what_;
  int64_t at_ = 0;
};

}  // namespace shrink::bytes
