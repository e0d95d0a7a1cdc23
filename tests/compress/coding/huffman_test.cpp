// Canonical length-limited Huffman codes: hand-checked lengths and bytes, round trips on the
// edge cases (empty, one symbol, all distinct, skewed), the length limit, closeness to the
// entropy, and corrupted blocks rejected with a clear error.
#include "../../../src/compress/coding/huffman.hpp"
#include "shrink/core/random.hpp"
#include "support/errors.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <queue>

namespace shrink::coding {
namespace {

using testing::bad_input_message;

std::vector<uint32_t> round_trip(const std::vector<uint32_t>& symbols, int alphabet, std::string* block = nullptr) {
  std::string bytes;
  write_block(symbols, alphabet, bytes);
  EXPECT_EQ(static_cast<int64_t>(bytes.size()), block_bytes(symbol_counts(symbols, alphabet)));
  BlockReader reader(bytes, alphabet, "test block");
  EXPECT_EQ(reader.bytes_used(), static_cast<int64_t>(bytes.size()));
  std::vector<uint32_t> back;
  for (size_t i = 0; i < symbols.size(); ++i) back.push_back(reader.next());
  reader.finish();
  if (block) *block = bytes;
  return back;
}

uint64_t kraft_numerator(const std::vector<uint8_t>& lengths, int limit) {
  uint64_t sum = 0;
  for (uint8_t l : lengths)
    if (l) sum += uint64_t{1} << (limit - l);
  return sum;
}

TEST(Huffman, LengthsAndBytesMatchAHandBuiltCanonicalCode) {
  const std::vector<uint64_t> counts = {5, 2, 1, 1};
  EXPECT_EQ(huffman_lengths(counts), (std::vector<uint8_t>{1, 2, 3, 3}));
  // Codes 0, 10, 110, 111, written bit-reversed, least significant bit first.
  const std::vector<uint32_t> symbols = {0, 1, 2, 3, 0, 0, 0, 0, 1};
  std::string block;
  EXPECT_EQ(round_trip(symbols, 4, &block), symbols);
  EXPECT_EQ(block, std::string("\x21\x33\x02\x00\x00\x00\xDA\x21", 8));
  EXPECT_NEAR(entropy_bits(counts), 5 * std::log2(9.0 / 5) + 2 * std::log2(9.0 / 2) + 2 * std::log2(9.0), 1e-9);
  EXPECT_EQ(coded_bits(counts, huffman_lengths(counts)), 15u);
}

TEST(Huffman, EdgeCasesRoundTrip) {
  // Empty: only the table and a zero stream length.
  std::string block;
  EXPECT_TRUE(round_trip({}, 32, &block).empty());
  EXPECT_EQ(block.size(), 16u + 4u);
  // One symbol, many times: it spends no bits.
  const std::vector<uint32_t> same(1000, 7);
  EXPECT_EQ(round_trip(same, 32, &block), same);
  EXPECT_EQ(block.size(), 16u + 4u);
  // All 256 symbols once: eight bits each.
  std::vector<uint32_t> distinct(256);
  for (uint32_t s = 0; s < 256; ++s) distinct[s] = 255 - s;
  EXPECT_EQ(round_trip(distinct, 256, &block), distinct);
  EXPECT_EQ(block.size(), 128u + 4u + 256u);
  // Two symbols and an odd alphabet.
  const std::vector<uint32_t> two = {2, 0, 0, 2, 2};
  EXPECT_EQ(round_trip(two, 3), two);
}

TEST(Huffman, SkewedSymbolsCodeWithinOnePercentOfTheirEntropy) {
  // Gaussian-like codebook indices (what k-means gives a layer's weights): 32 symbols.
  Rng rng(3);
  std::vector<uint32_t> symbols(50000);
  for (uint32_t& s : symbols) s = static_cast<uint32_t>(std::clamp(std::lround(15.5 + 5.0 * rng.normal()), 0L, 31L));
  EXPECT_EQ(round_trip(symbols, 32), symbols);
  const std::vector<uint64_t> counts = symbol_counts(symbols, 32);
  const double entropy = entropy_bits(counts);
  const double bits = static_cast<double>(coded_bits(counts, huffman_lengths(counts)));
  EXPECT_LE(bits, 1.01 * entropy);
  EXPECT_GE(bits, entropy);
}

// The bits of an unlimited Huffman code: the sum of the weights of every merge (the reference
// for package-merge where the limit does not bind).
uint64_t unlimited_huffman_bits(const std::vector<uint64_t>& counts) {
  std::priority_queue<uint64_t, std::vector<uint64_t>, std::greater<>> queue;
  for (uint64_t c : counts)
    if (c) queue.push(c);
  uint64_t bits = 0;
  while (queue.size() > 1) {
    const uint64_t a = queue.top();
    queue.pop();
    const uint64_t b = queue.top();
    queue.pop();
    bits += a + b;
    queue.push(a + b);
  }
  return bits;
}

TEST(Huffman, PackageMergeMatchesAnUnlimitedHuffmanCodeWhereTheLimitDoesNotBind) {
  Rng rng(11);
  for (int trial = 0; trial < 50; ++trial) {
    // Up to 64 symbols, counts 50..1049: no Huffman code of them is deeper than 15.
    std::vector<uint64_t> counts(static_cast<size_t>(2 + rng.below(63)));
    for (uint64_t& c : counts) c = rng.uniform() < 0.2 ? 0 : static_cast<uint64_t>(50 + rng.below(1000));
    if (std::count_if(counts.begin(), counts.end(), [](uint64_t c) { return c != 0; }) < 2) continue;
    const std::vector<uint8_t> lengths = huffman_lengths(counts);
    EXPECT_EQ(coded_bits(counts, lengths), unlimited_huffman_bits(counts)) << "trial " << trial;
    EXPECT_EQ(kraft_numerator(lengths, kMaxCodeLength), uint64_t{1} << kMaxCodeLength);
  }
}

TEST(Huffman, LengthsStayWithinTheLimitAndTheCodeStaysComplete) {
  // Fibonacci counts make the unlimited Huffman tree a chain 29 deep.
  std::vector<uint64_t> fibonacci = {1, 1};
  while (fibonacci.size() < 30) fibonacci.push_back(fibonacci[fibonacci.size() - 1] + fibonacci[fibonacci.size() - 2]);
  const std::vector<uint8_t> lengths = huffman_lengths(fibonacci);
  for (uint8_t l : lengths) {
    EXPECT_GE(l, 1);
    EXPECT_LE(l, kMaxCodeLength);
  }
  EXPECT_EQ(kraft_numerator(lengths, kMaxCodeLength), uint64_t{1} << kMaxCodeLength);
  EXPECT_EQ(*std::max_element(lengths.begin(), lengths.end()), kMaxCodeLength) << "the limit binds";
  // A tighter limit: 32 symbols in 5 bits leaves one choice, 5 bits each.
  std::vector<uint64_t> skewed(32);
  for (size_t s = 0; s < 32; ++s) skewed[s] = uint64_t{1} << s;
  EXPECT_EQ(huffman_lengths(skewed, 5), std::vector<uint8_t>(32, 5));
  std::vector<uint32_t> symbols;
  for (uint32_t s = 0; s < 30; ++s)
    for (uint64_t i = 0; i < std::min<uint64_t>(fibonacci[s], 3000); ++i) symbols.push_back(s);
  EXPECT_EQ(round_trip(symbols, 30), symbols);
}

TEST(Huffman, CorruptBlocksAreClearErrors) {
  std::string good;
  const std::vector<uint32_t> symbols = {0, 1, 2, 3, 0, 0, 0, 0, 1};
  write_block(symbols, 4, good);
  // The stream cut short: the length says 2 bytes, 1 is there.
  EXPECT_NE(bad_input_message([&] { BlockReader(good.substr(0, good.size() - 1), 4, "codes"); })
                .find("codes ends before its stream"),
            std::string::npos);
  // Over-full lengths (1, 1, 3, 3).
  std::string over = good;
  over[0] = '\x11';
  EXPECT_NE(bad_input_message([&] { BlockReader(over, 4, "codes"); }).find("complete prefix code"),
            std::string::npos);
  // Reading more symbols than the stream holds.
  EXPECT_NE(bad_input_message([&] {
              BlockReader reader(good, 4, "codes");
              for (int i = 0; i < 12; ++i) reader.next();
            }).find("codes stream ends before its last symbol"),
            std::string::npos);
  // Stray bits after the last symbol.
  std::string stray = good;
  stray.back() = static_cast<char>(stray.back() | 0x80);
  EXPECT_NE(bad_input_message([&] {
              BlockReader reader(stray, 4, "codes");
              for (int i = 0; i < 9; ++i) reader.next();
              reader.finish();
            }).find("bits left after its last symbol"),
            std::string::npos);
  // A single symbol must have length 1, and a code spending no bits no stream.
  EXPECT_NE(bad_input_message([&] { BlockReader(std::string("\x03\x00\x00\x00\x00\x00", 6), 4, "codes"); })
                .find("a single symbol has length 1"),
            std::string::npos);
  EXPECT_NE(bad_input_message([&] { BlockReader(std::string("\x01\x00\x01\x00\x00\x00\x00", 7), 4, "codes"); })
                .find("spends no bits"),
            std::string::npos);
  // A length given to a symbol past an odd alphabet.
  EXPECT_NE(bad_input_message([&] { BlockReader(std::string("\x11\x10\x00\x00\x00\x00", 6), 3, "codes"); })
                .find("past its alphabet"),
            std::string::npos);
}

}  // namespace
}  // namespace shrink::coding
