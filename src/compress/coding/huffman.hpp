#pragma once
// Canonical, length-limited Huffman codes over small alphabets (at most 256 symbols): the
// entropy coder of the .shrk file's Huffman encodings (codebook indices and sparse index gaps,
// as in Deep Compression), specified byte by byte in docs/file-format.md.
//
// - Code lengths are optimal under a length limit (package-merge, Larmore and Hirschberg 1990),
//   at most kMaxCodeLength = 15 bits, so each length fits a nibble of the code table.
// - Codes are canonical (DEFLATE's rule: shorter codes first, then by symbol), so the lengths
//   alone define the code.
// - Bits are packed least significant first and each code is stored bit-reversed, so the decoder
//   reads the next kMaxCodeLength bits as one number and looks them up in one table.
// - A block holds one symbol sequence: the code lengths, the stream's byte count, the stream. A
//   block whose alphabet has a single used symbol spends no bits on the sequence.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "stream_bits.hpp"

namespace shrink::coding {

inline constexpr int kMaxCodeLength = 15;
inline constexpr int kMaxAlphabet = 256;

// Symbol counts over an alphabet of `alphabet` symbols (every symbol < alphabet).
std::vector<uint64_t> symbol_counts(std::span<const uint32_t> symbols, int alphabet);

// Empirical entropy of the sequence the counts describe, in bits for the whole sequence:
// sum over symbols of -count * log2(count / total).
double entropy_bits(std::span<const uint64_t> counts);

// Optimal code lengths no longer than `max_length` for `counts` (0 for unused symbols). A single
// used symbol gets length 1; none, all zeros. Needs 2^max_length >= the number of used symbols.
std::vector<uint8_t> huffman_lengths(std::span<const uint64_t> counts,
                                     int max_length = kMaxCodeLength);

// Bits a sequence with `counts` takes under `lengths` (0 when one symbol is used).
uint64_t coded_bits(std::span<const uint64_t> counts, std::span<const uint8_t> lengths);

// Exact byte size of the block write_block produces for a sequence with these counts.
int64_t block_bytes(std::span<const uint64_t> counts);

// Each symbol's canonical code for `lengths`, bit-reversed: the bits as they appear in a
// stream filled least significant bit first (0 for symbols of length 0).
std::vector<uint32_t> stream_codes(std::span<const uint8_t> lengths);

// Appends the codes of `symbols` under `lengths` to `out`, least significant bit first, the last
// byte padded with zero bits. Every symbol must have a nonzero length.
void append_codes(std::span<const uint32_t> symbols, std::span<const uint8_t> lengths, std::string& out);

// Appends a block coding `symbols` (each < alphabet <= kMaxAlphabet).
void write_block(std::span<const uint32_t> symbols, int alphabet, std::string& out);

// Reads the block at the front of `bytes` over `alphabet` symbols; `what` names it in errors
// ("quantized-huffman codes"). Symbols come out one at a time through next(); finish() checks
// that the stream was used up exactly. Malformed lengths (an over- or under-full code), a stream
// that ends early, a bit pattern that is no code and stray bits after the last code are
// bad-input Errors.
class BlockReader {
 public:
  BlockReader(std::string_view bytes, int alphabet, std::string what);

  uint32_t next();
  void finish() const;
  // Bytes of the block (lengths, count and stream), for the caller to continue after it.
  int64_t bytes_used() const { return block_bytes_; }

 private:
  struct Entry {
    uint16_t symbol;
    uint8_t length;  // 0: no code starts with these bits
  };

  std::string what_;
  std::vector<Entry> table_;  // indexed by the next table_bits_ stream bits
  int table_bits_ = 0;
  int single_ = -1;           // the only used symbol, or -1
  bool empty_ = false;        // no symbol has a code
  StreamBits stream_;
  int64_t block_bytes_ = 0;
};

}  // namespace shrink::coding
