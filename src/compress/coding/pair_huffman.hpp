#pragma once
// Pair blocks: a canonical Huffman code over pairs of symbols (extended Huffman), the entropy
// coder of the .shrk file's quantized-*-pair-huffman encodings, specified byte by byte in
// docs/file-format.md.
//
// A code over single symbols spends whole bits per symbol: on a small alphabet whose likeliest
// symbol is common it stays above the entropy by up to p_max + 0.086 bits a symbol (Gallager
// 1978), over 1% for the 16 codes of a 4-bit k-means layer. Coding two symbols at a time halves
// that bound per symbol. Sending the pair code's 4·A² bits of lengths would cost more than it
// saves, so the block stores one number per symbol instead: an ideal code length in half bits
// (5 bits each, against 4 for a single-symbol block's lengths), and reader and writer derive the
// pair code from them. The writer picks those half-bit lengths to make its stream shortest.
//
// - Pair (a, b) weighs v(q_a)·v(q_b) with v(q) = round(2^(16 − q/2)) (kHalfBitWeights); the pair
//   code has the optimal lengths for those weights under kMaxCodeLength (huffman_lengths),
//   canonical and bit-reversed as in a single-symbol block, so decoding is one table look-up
//   per pair.
// - A sequence of odd length ends with its last symbol paired with the pad symbol: the used
//   symbol of smallest q (the lowest on ties).
// - The block has no stream length: it is the last thing in its tensor and the stream ends with
//   the sequence (the reader knows its length), so the block's size is the table plus the bytes
//   the codes fill.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "stream_bits.hpp"

namespace shrink::coding {

// Alphabets of at most 32 symbols (codes of at most 5 bits): 1,024 pairs.
inline constexpr int kMaxPairAlphabet = 32;
// Half-bit lengths take 5 bits: 1..31 (0.5..15.5 bits); 0 marks a symbol that does not occur.
inline constexpr int kHalfBitLengthBits = 5;

// The exact byte size write_pair_block produces for `symbols`, or -1 when a pair block cannot
// code them: an alphabet over kMaxPairAlphabet or fewer than two distinct symbols.
int64_t pair_block_bytes(std::span<const uint32_t> symbols, int alphabet);

// Appends a pair block coding `symbols` (each < alphabet); pair_block_bytes must not be -1.
void write_pair_block(std::span<const uint32_t> symbols, int alphabet, std::string& out);

// Reads the pair block at the front of `bytes` (the rest of its tensor) over `alphabet`
// symbols; `what` names it in errors. Symbols come out one at a time through next(); finish()
// checks that the sequence ended where the stream does. A table with bits past its symbols,
// fewer than two used symbols, a stream that ends early, a bit pattern that is no code, a wrong
// pad symbol and stray bits after the last code are bad-input Errors.
class PairBlockReader {
 public:
  PairBlockReader(std::string_view bytes, int alphabet, std::string what);

  uint32_t next() {
    if (pending_ >= 0) {
      const auto symbol = static_cast<uint32_t>(pending_);
      pending_ = -1;
      return symbol;
    }
    return next_pair();
  }
  void finish() const;
  // Bytes of the block (table and the stream up to its last code); valid after finish().
  int64_t bytes_used() const;

 private:
  struct Entry {
    uint8_t first;
    uint8_t second;
    uint8_t length;  // 0: no code starts with these bits
  };
  uint32_t next_pair();

  std::string what_;
  std::vector<Entry> table_;  // indexed by the next table_bits_ stream bits
  int table_bits_ = 0;
  int pad_ = 0;
  int pending_ = -1;          // the second symbol of the last pair, not yet returned
  int64_t table_bytes_ = 0;
  StreamBits stream_;
};

}  // namespace shrink::coding
