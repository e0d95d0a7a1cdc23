// Pair blocks (Huffman codes over pairs of symbols): round trips on the edge cases (two symbols,
// odd and even lengths, the largest alphabet), exact sizes, closeness to the entropy where a
// single-symbol code stays over 1%, and corrupted blocks rejected with a clear error.
#include "../../../src/compress/coding/huffman.hpp"
#include "../../../src/compress/coding/pair_huffman.hpp"
#include "shrink/core/random.hpp"
#include "support/errors.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace shrink::coding {
namespace {

using testing::bad_input_message;
using Symbols = std::vector<uint32_t>;

// Reads `count` symbols; `used` receives the block's bytes.
std::vector<uint32_t> read_all(const std::string& bytes, int alphabet, size_t count, int64_t* used = nullptr) {
  PairBlockReader reader(bytes, alphabet, "test pairs");
  std::vector<uint32_t> back;
  for (size_t i = 0; i < count; ++i) back.push_back(reader.next());
  reader.finish();
  if (used) *used = reader.bytes_used();
  return back;
}

std::string round_trip(const std::vector<uint32_t>& symbols, int alphabet) {
  std::string bytes;
  write_pair_block(symbols, alphabet, bytes);
  EXPECT_EQ(static_cast<int64_t>(bytes.size()), pair_block_bytes(symbols, alphabet));
  int64_t used = 0;
  EXPECT_EQ(read_all(bytes, alphabet, symbols.size(), &used), symbols);
  EXPECT_EQ(used, static_cast<int64_t>(bytes.size()));
  // The block is the last thing in its tensor: the reader stops at its last code, before the
  // tensor's zero padding.
  EXPECT_EQ(read_all(bytes + std::string(3, '\0'), alphabet, symbols.size(), &used), symbols);
  EXPECT_EQ(used, static_cast<int64_t>(bytes.size()));
  return bytes;
}

// A shuffled sequence with these symbol counts.
std::vector<uint32_t> with_counts(const std::vector<int>& counts, uint64_t seed) {
  std::vector<uint32_t> symbols;
  for (size_t s = 0; s < counts.size(); ++s) symbols.insert(symbols.end(), static_cast<size_t>(counts[s]), static_cast<uint32_t>(s));
  Rng rng(seed);
  for (size_t i = symbols.size(); i > 1; --i) std::swap(symbols[i - 1], symbols[static_cast<size_t>(rng.below(static_cast<int64_t>(i)))]);
  return symbols;
}

TEST(PairHuffman, EdgeCasesRoundTrip) {
  // Two symbols, odd and even lengths (the odd last symbol is paired with the pad).
  round_trip({0, 1}, 2);
  round_trip({1, 0, 1}, 2);
  EXPECT_EQ(round_trip({1, 1, 1, 0, 1}, 2).size(), 2u + 1u) << "10 bits of table, then 3 pairs";
  // Every one of 32 symbols once, and a long skewed run over 32.
  std::vector<uint32_t> distinct(32);
  for (uint32_t s = 0; s < 32; ++s) distinct[s] = 31 - s;
  round_trip(distinct, 32);
  Rng rng(5);
  std::vector<uint32_t> skewed(20001);
  for (uint32_t& s : skewed) s = static_cast<uint32_t>(std::clamp(std::lround(15.5 + 3.0 * rng.normal()), 0L, 31L));
  round_trip(skewed, 32);
  // Unused symbols in between and an alphabet that is not a power of two.
  round_trip({4, 4, 0, 4, 2, 4, 4}, 5);
}

TEST(PairHuffman, NotForOneSymbolOrLargeAlphabets) {
  EXPECT_EQ(pair_block_bytes(Symbols{}, 16), -1);
  EXPECT_EQ(pair_block_bytes(std::vector<uint32_t>(100, 3), 16), -1);
  EXPECT_EQ(pair_block_bytes(Symbols{0, 1, 2}, 64), -1);
  std::string bytes;
  EXPECT_THROW(write_pair_block(Symbols{3, 3}, 16, bytes), Error);
}

TEST(PairHuffman, ComesWithinOnePercentOfTheEntropyWhereSingleSymbolsCannot) {
  // The code counts of a 4-bit k-means layer (LeNet-5's fc2 in bench/deep_compression.sh): a
  // single-symbol Huffman code spends over 1% more than their entropy, whatever the order.
  const std::vector<int> counts = {3, 14, 25, 57, 83, 102, 62, 9, 54, 64, 67, 61, 69, 40, 33, 7};
  for (uint64_t seed : {1, 2, 3}) {
    const std::vector<uint32_t> symbols = with_counts(counts, seed);
    const std::vector<uint64_t> symbol_count = symbol_counts(symbols, 16);
    const double entropy = entropy_bits(symbol_count);
    const double single = static_cast<double>(coded_bits(symbol_count, huffman_lengths(symbol_count)));
    EXPECT_GT(single, 1.01 * entropy);
    const std::string pairs = round_trip(symbols, 16);
    const double pair_stream_bits = 8.0 * static_cast<double>(pairs.size() - 10);
    EXPECT_LE(pair_stream_bits, 1.01 * entropy) << "seed " << seed;
    // Smaller than the single-symbol block, tables and its stream length included.
    EXPECT_LT(pairs.size(), static_cast<size_t>(block_bytes(symbol_count))) << "seed " << seed;
  }
}

TEST(PairHuffman, CorruptBlocksAreClearErrors) {
  const std::vector<uint32_t> symbols = with_counts({3, 14, 25, 57, 83, 102, 62, 9}, 4);
  std::string good;
  write_pair_block(symbols, 8, good);  // 5 bytes of half-bit lengths, then the stream
  auto message = [&](const std::string& bytes, size_t count) {
    return bad_input_message([&] { read_all(bytes, 8, count); });
  };
  EXPECT_NE(message(good.substr(0, 3), symbols.size()).find("test pairs ends before its half-bit lengths"),
            std::string::npos);
  EXPECT_NE(message(good.substr(0, good.size() - 2), symbols.size()).find("test pairs stream ends before its last symbol"),
            std::string::npos);
  // Symbols 0 and 1 over two: every pair has a 2-bit code, so the stream's byte holds 2 bits.
  std::string stray;
  write_pair_block(Symbols{0, 1}, 2, stray);
  ASSERT_EQ(stray.size(), 3u);
  stray.back() = static_cast<char>(stray.back() | 0x80);
  EXPECT_NE(bad_input_message([&] { read_all(stray, 2, 2); }).find("test pairs stream has bits set after its last symbol"),
            std::string::npos);
  // One used symbol: symbol 0 at half-bit length 1, the rest unused.
  EXPECT_NE(message(std::string("\x01\x00\x00\x00\x00\x00", 6), 1).find("gives a length to 1 symbols"),
            std::string::npos);
  // Over two symbols the table has 10 bits; the 6 after them must be zero.
  EXPECT_NE(bad_input_message([&] { PairBlockReader(std::string("\x21\x80\x00", 3), 2, "p"); })
                .find("p has bits set in its half-bit lengths past its 2 symbols"),
            std::string::npos);
  // An odd sequence whose last pair ends in another symbol than the pad.
  std::string wrong_pad;
  write_pair_block(Symbols{0, 0, 0, 1}, 2, wrong_pad);  // pairs (0, 0) and (0, 1); the pad is 0
  EXPECT_NE(bad_input_message([&] { read_all(wrong_pad, 2, 3); }).find("instead of the pad symbol 0"),
            std::string::npos);
  EXPECT_NE(bad_input_message([&] { PairBlockReader(good, 64, "p"); }).find("pair blocks code 2..32"),
            std::string::npos);
}

}  // namespace
}  // namespace shrink::coding
