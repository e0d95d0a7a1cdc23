#pragma once
// The bit stream of a Huffman block as both table decoders read it (huffman.hpp, pair_huffman.hpp):
// bits least significant first, so a decoder peeks the next `width` bits as one number, looks it
// up, and consumes the code's length.
#include <cstdint>

namespace shrink::coding {

class StreamBits {
 public:
  StreamBits() = default;
  StreamBits(const unsigned char* bytes, int64_t size) : bytes_(bytes), size_(size) {}

  int64_t size() const { return size_; }

  // The next `width` bits (width ≤ 57); past the end of the stream they read as zeros.
  uint64_t peek(int width) {
    if (buffered_ < width) refill();
    return buffer_ & ((uint64_t{1} << width) - 1);
  }
  // Drops the next `length` bits; false when the stream holds fewer (a truncated stream).
  bool consume(int length) {
    if (length > buffered_) return false;
    buffer_ >>= length;
    buffered_ -= length;
    return true;
  }

  // Every byte read and only zero bits left, short of a whole byte: the stream ended exactly.
  bool ended_exactly() const { return next_byte_ == size_ && buffered_ < 8 && buffer_ == 0; }
  // The bits after the last consumed one, up to the end of its byte, are all zero.
  bool rest_of_byte_is_zero() const { return (buffer_ & ((uint64_t{1} << (buffered_ % 8)) - 1)) == 0; }
  // Bytes that the consumed bits reach into.
  int64_t bytes_reached() const { return (next_byte_ * 8 - buffered_ + 7) / 8; }

 private:
  void refill() {
    while (buffered_ <= 56 && next_byte_ < size_) {
      buffer_ |= uint64_t{bytes_[next_byte_++]} << buffered_;
      buffered_ += 8;
    }
  }

  const unsigned char* bytes_ = nullptr;
  int64_t size_ = 0;
  int64_t next_byte_ = 0;
  uint64_t buffer_ = 0;
  int buffered_ = 0;  // valid bits in buffer_
};

}  // namespace shrink::coding
