#include "compress/coding/huffman.hpp"

#include "core/byte_io.hpp"
#include "shrink/core/error.hpp"

#include <algorithm>
#include <cmath>

namespace shrink::coding {
namespace {

int64_t table_bytes(int64_t alphabet) { return (alphabet + 1) / 2; }
constexpr int64_t kStreamCountBytes = 4;

// Canonical codes (most significant bit first) for the lengths, as DEFLATE assigns them.
std::vector<uint32_t> canonical_codes(std::span<const uint8_t> lengths) {
  int count[kMaxCodeLength + 1] = {};
  for (uint8_t length : lengths) ++count[length];
  count[0] = 0;
  uint32_t next[kMaxCodeLength + 2] = {};
  uint32_t code = 0;
  for (int bits = 1; bits <= kMaxCodeLength; ++bits) {
    code = (code + static_cast<uint32_t>(count[bits - 1])) << 1;
    next[bits] = code;
  }
  std::vector<uint32_t> codes(lengths.size(), 0);
  for (size_t s = 0; s < lengths.size(); ++s)
    if (lengths[s] != 0) codes[s] = next[lengths[s]]++;
  return codes;
}

uint32_t reverse_bits(uint32_t code, int length) {
  uint32_t reversed = 0;
  for (int i = 0; i < length; ++i) reversed |= ((code >> i) & 1u) << (length - 1 - i);
  return reversed;
}

int used_symbols(std::span<const uint8_t> lengths) {
  return static_cast<int>(std::count_if(lengths.begin(), lengths.end(), [](uint8_t l) { return l != 0; }));
}

}  // namespace

std::vector<uint64_t> symbol_counts(std::span<const uint32_t> symbols, int alphabet) {
  std::vector<uint64_t> counts(static_cast<size_t>(alphabet), 0);
  for (uint32_t s : symbols) {
    if (s >= static_cast<uint32_t>(alphabet))
      throw Error::internal("symbol " + std::to_string(s) + " is outside an alphabet of " +
                            std::to_string(alphabet));
    ++counts[s];
  }
  return counts;
}

double entropy_bits(std::span<const uint64_t> counts) {
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  double bits = 0.0;
  for (uint64_t c : counts)
    if (c != 0) bits -= static_cast<double>(c) * std::log2(static_cast<double>(c) / static_cast<double>(total));
  return bits;
}

std::vector<uint8_t> huffman_lengths(std::span<const uint64_t> counts, int max_length) {
  std::vector<uint8_t> lengths(counts.size(), 0);
  // Package-merge: the leaves (symbols by increasing count) are merged max_length - 1 times with
  // the pairs ("packages") of the previous list; a symbol's length is the number of the first
  // 2m - 2 items of the last list that contain it. The items chosen from a list are a prefix of
  // it, and the packages among them are made of a prefix of the list before, so the lengths come
  // from walking the lists back, each item knowing only its weight and its leaf (if any).
  struct Item {
    uint64_t weight;
    int leaf;  // the symbol, or -1 for a package of two items of the previous list
  };
  std::vector<Item> leaves;
  for (size_t s = 0; s < counts.size(); ++s)
    if (counts[s] != 0) leaves.push_back({counts[s], static_cast<int>(s)});
  const size_t m = leaves.size();
  if (m == 0) return lengths;
  if (m == 1) {
    lengths[static_cast<size_t>(leaves[0].leaf)] = 1;
    return lengths;
  }
  if (max_length < 1 || max_length > kMaxCodeLength || (size_t{1} << max_length) < m)
    throw Error::internal("no prefix code of " + std::to_string(m) + " symbols fits in " +
                          std::to_string(max_length) + " bits");
  std::stable_sort(leaves.begin(), leaves.end(),
                   [](const Item& a, const Item& b) { return a.weight < b.weight; });
  std::vector<std::vector<Item>> lists{leaves};
  for (int level = 1; level < max_length; ++level) {
    const std::vector<Item>& previous = lists.back();
    std::vector<Item> merged;
    merged.reserve(m + previous.size() / 2);
    size_t a = 0, b = 0;
    const size_t packages = previous.size() / 2;
    while (a < m || b < packages) {
      // Leaves first on equal weights: shorter codes for single symbols.
      const uint64_t package = b < packages ? previous[2 * b].weight + previous[2 * b + 1].weight : 0;
      if (b == packages || (a < m && leaves[a].weight <= package)) {
        merged.push_back(leaves[a++]);
      } else {
        merged.push_back({package, -1});
        ++b;
      }
    }
    lists.push_back(std::move(merged));
  }
  size_t chosen = 2 * m - 2;
  for (size_t level = lists.size(); level-- > 0;) {
    size_t packages = 0;
    for (size_t i = 0; i < chosen; ++i) {
      if (lists[level][i].leaf >= 0) ++lengths[static_cast<size_t>(lists[level][i].leaf)];
      else ++packages;
    }
    chosen = 2 * packages;
  }
  return lengths;
}

uint64_t coded_bits(std::span<const uint64_t> counts, std::span<const uint8_t> lengths) {
  if (used_symbols(lengths) <= 1) return 0;
  uint64_t bits = 0;
  for (size_t s = 0; s < counts.size(); ++s) bits += counts[s] * lengths[s];
  return bits;
}

int64_t block_bytes(std::span<const uint64_t> counts) {
  const std::vector<uint8_t> lengths = huffman_lengths(counts);
  return table_bytes(static_cast<int64_t>(counts.size())) + kStreamCountBytes +
         static_cast<int64_t>((coded_bits(counts, lengths) + 7) / 8);
}

void write_block(std::span<const uint32_t> symbols, int alphabet, std::string& out) {
  if (alphabet < 1 || alphabet > kMaxAlphabet)
    throw Error::internal("a Huffman block's alphabet must have 1.." + std::to_string(kMaxAlphabet) +
                          " symbols, not " + std::to_string(alphabet));
  const std::vector<uint64_t> counts = symbol_counts(symbols, alphabet);
  const std::vector<uint8_t> lengths = huffman_lengths(counts);
  for (int s = 0; s < alphabet; s += 2)
    out.push_back(static_cast<char>(lengths[static_cast<size_t>(s)] |
                                    (s + 1 < alphabet ? lengths[static_cast<size_t>(s) + 1] << 4 : 0)));
  const uint64_t bits = coded_bits(counts, lengths);
  bytes::put_u32(out, static_cast<uint32_t>((bits + 7) / 8));
  if (bits != 0) append_codes(symbols, lengths, out);
}

std::vector<uint32_t> stream_codes(std::span<const uint8_t> lengths) {
  std::vector<uint32_t> codes = canonical_codes(lengths);
  for (size_t s = 0; s < codes.size(); ++s) codes[s] = reverse_bits(codes[s], lengths[s]);
  return codes;
}

void append_codes(std::span<const uint32_t> symbols, std::span<const uint8_t> lengths, std::string& out) {
  const std::vector<uint32_t> codes = stream_codes(lengths);
  uint64_t buffer = 0;
  int filled = 0;
  for (uint32_t s : symbols) {
    buffer |= uint64_t{codes[s]} << filled;
    filled += lengths[s];
    for (; filled >= 8; filled -= 8, buffer >>= 8) out.push_back(static_cast<char>(buffer));
  }
  if (filled > 0) out.push_back(static_cast<char>(buffer));
}

BlockReader::BlockReader(std::string_view bytes, int alphabet, std::string what)
    : what_(std::move(what)) {
  bytes::Reader in(bytes, what_);
  const std::string_view table = in.take(table_bytes(alphabet), "code lengths");
  std::vector<uint8_t> lengths(static_cast<size_t>(alphabet));
  for (int s = 0; s < alphabet; ++s) {
    const auto byte = static_cast<unsigned char>(table[static_cast<size_t>(s / 2)]);
    lengths[static_cast<size_t>(s)] = static_cast<uint8_t>(s % 2 == 0 ? byte & 15u : byte >> 4);
  }
  if (alphabet % 2 == 1)
    require((static_cast<unsigned char>(table.back()) >> 4) == 0,
            what_ + " gives a code length to symbol " + std::to_string(alphabet) +
                ", past its alphabet of " + std::to_string(alphabet));
  const int64_t stream_bytes = in.u32("stream length");
  stream_ = StreamBits(reinterpret_cast<const unsigned char*>(in.take(stream_bytes, "stream").data()),
                       stream_bytes);
  block_bytes_ = in.position();

  const int used = used_symbols(lengths);
  if (used == 0) {
    empty_ = true;
  } else if (used == 1) {
    for (int s = 0; s < alphabet; ++s)
      if (lengths[static_cast<size_t>(s)] != 0) single_ = s;
    require(lengths[static_cast<size_t>(single_)] == 1,
            what_ + " has one symbol with a code length of " +
                std::to_string(lengths[static_cast<size_t>(single_)]) + "; a single symbol has length 1");
  } else {
    // The lengths must describe a complete prefix code: sum of 2^-length == 1.
    uint64_t kraft = 0;
    for (uint8_t length : lengths)
      if (length != 0) kraft += uint64_t{1} << (kMaxCodeLength - length);
    require(kraft == uint64_t{1} << kMaxCodeLength,
            what_ + " has code lengths that do not form a complete prefix code (Kraft sum " +
                std::to_string(static_cast<double>(kraft) / static_cast<double>(uint64_t{1} << kMaxCodeLength)) +
                " instead of 1)");
    table_bits_ = *std::max_element(lengths.begin(), lengths.end());
    table_.assign(size_t{1} << table_bits_, Entry{0, 0});
    const std::vector<uint32_t> codes = stream_codes(lengths);
    for (int s = 0; s < alphabet; ++s) {
      const int length = lengths[static_cast<size_t>(s)];
      if (length == 0) continue;
      const uint32_t reversed = codes[static_cast<size_t>(s)];
      for (uint32_t rest = 0; rest < (1u << (table_bits_ - length)); ++rest)
        table_[reversed | (rest << length)] = Entry{static_cast<uint16_t>(s), static_cast<uint8_t>(length)};
    }
  }
  if (table_bits_ == 0)
    require(stream_.size() == 0, what_ + " has a " + std::to_string(stream_.size()) +
                                    "-byte stream but its code spends no bits");
}

uint32_t BlockReader::next() {
  if (single_ >= 0) return static_cast<uint32_t>(single_);
  // Tested before building a message: this runs once per symbol.
  if (empty_) throw Error::bad_input(what_ + " has no codes but a symbol was expected");
  const Entry entry = table_[stream_.peek(table_bits_)];
  // Checked before building a message: this runs once per symbol.
  if (entry.length == 0 || !stream_.consume(entry.length))
    throw Error::bad_input(what_ + " stream ends before its last symbol (" +
                           std::to_string(stream_.size()) + " bytes)");
  return entry.symbol;
}

void BlockReader::finish() const {
  require(stream_.ended_exactly(),
          what_ + " stream has bits left after its last symbol");
}

}  // namespace shrink::coding
