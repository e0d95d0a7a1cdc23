#include "compress/coding/pair_huffman.hpp"

#include "compress/coding/huffman.hpp"
#include "shrink/core/error.hpp"

#include <algorithm>
#include <array>
#include <cmath>

namespace shrink::coding {
namespace {

constexpr int kMaxHalfBits = (1 << kHalfBitLengthBits) - 1;
// v(q) = round(2^(16 − q/2)) for q = 1..31: the weight of a symbol whose ideal code length is
// q/2 bits, as integers so that reader and writer build the same code on any machine.
constexpr std::array<uint64_t, kMaxHalfBits + 1> kHalfBitWeights = {
    0,    46341, 32768, 23170, 16384, 11585, 8192, 5793, 4096, 2896, 2048, 1448, 1024, 724, 512, 362,
    256, 181,   128,   91,    64,    45,    32,   23,   16,   11,   8,    6,    4,    3,   2,   1};
// Rounds of the writer's search over half-bit lengths; it stops earlier when a round gains nothing.
constexpr int kSearchRounds = 16;

int64_t table_bytes(int alphabet) { return (int64_t{alphabet} * kHalfBitLengthBits + 7) / 8; }

// The pair code's lengths (pair a·A + b) for the half-bit lengths `half_bits`.
std::vector<uint8_t> pair_lengths(std::span<const uint8_t> half_bits) {
  const size_t alphabet = half_bits.size();
  std::vector<uint64_t> weights(alphabet * alphabet, 0);
  for (size_t a = 0; a < alphabet; ++a)
    for (size_t b = 0; b < alphabet; ++b)
      weights[a * alphabet + b] = kHalfBitWeights[half_bits[a]] * kHalfBitWeights[half_bits[b]];
  return huffman_lengths(weights);
}

// The used symbol with the smallest half-bit length, the lowest on ties.
int pad_symbol(std::span<const uint8_t> half_bits) {
  int pad = -1;
  for (size_t s = 0; s < half_bits.size(); ++s)
    if (half_bits[s] != 0 && (pad < 0 || half_bits[s] < half_bits[static_cast<size_t>(pad)]))
      pad = static_cast<int>(s);
  return pad;
}

// Pair b of the sequence, the odd last symbol paired with `pad`.
std::vector<uint32_t> pairs_of(std::span<const uint32_t> symbols, int alphabet, int pad) {
  std::vector<uint32_t> pairs((symbols.size() + 1) / 2);
  for (size_t i = 0; i < pairs.size(); ++i) {
    const uint32_t second = 2 * i + 1 < symbols.size() ? symbols[2 * i + 1] : static_cast<uint32_t>(pad);
    pairs[i] = symbols[2 * i] * static_cast<uint32_t>(alphabet) + second;
  }
  return pairs;
}

struct PairCode {
  std::vector<uint8_t> half_bits;  // per symbol
  std::vector<uint8_t> lengths;    // per pair
  uint64_t bits = 0;               // of the whole stream
};

// The half-bit lengths that make the stream shortest, by a local search from -2·log2 of each
// symbol's frequency: each length moves by half a bit while that shortens the stream. Empty
// when a pair block cannot code the symbols.
PairCode plan(std::span<const uint32_t> symbols, int alphabet) {
  if (alphabet < 2 || alphabet > kMaxPairAlphabet) return {};
  const std::vector<uint64_t> counts = symbol_counts(symbols, alphabet);
  if (std::count_if(counts.begin(), counts.end(), [](uint64_t c) { return c != 0; }) < 2) return {};
  const auto total = static_cast<double>(symbols.size());
  const auto pairs = static_cast<size_t>(alphabet) * static_cast<size_t>(alphabet);
  // Counts of the whole pairs; the odd last symbol's pair depends on the pad.
  std::vector<uint64_t> pair_counts(pairs, 0);
  for (size_t i = 0; i + 1 < symbols.size(); i += 2)
    ++pair_counts[symbols[i] * static_cast<size_t>(alphabet) + symbols[i + 1]];
  const bool odd = symbols.size() % 2 == 1;

  PairCode code;
  code.half_bits.assign(static_cast<size_t>(alphabet), 0);
  for (size_t s = 0; s < counts.size(); ++s)
    if (counts[s] != 0)
      code.half_bits[s] = static_cast<uint8_t>(std::clamp<long>(
          std::lround(-2.0 * std::log2(static_cast<double>(counts[s]) / total)), 1, kMaxHalfBits));
  auto evaluate = [&](PairCode& candidate) {
    candidate.lengths = pair_lengths(candidate.half_bits);
    candidate.bits = 0;
    for (size_t p = 0; p < pairs; ++p) candidate.bits += pair_counts[p] * candidate.lengths[p];
    if (odd)
      candidate.bits += candidate.lengths[symbols.back() * static_cast<size_t>(alphabet) +
                                          static_cast<size_t>(pad_symbol(candidate.half_bits))];
  };
  evaluate(code);
  for (int round = 0; round < kSearchRounds; ++round) {
    bool improved = false;
    for (size_t s = 0; s < code.half_bits.size(); ++s) {
      if (code.half_bits[s] == 0) continue;
      for (int step : {-1, 1}) {
        const int moved = code.half_bits[s] + step;
        if (moved < 1 || moved > kMaxHalfBits) continue;
        PairCode candidate = code;
        candidate.half_bits[s] = static_cast<uint8_t>(moved);
        evaluate(candidate);
        if (candidate.bits < code.bits) {
          code = std::move(candidate);
          improved = true;
        }
      }
    }
    if (!improved) break;
  }
  return code;
}

// Saving a tensor sizes each of its pair encodings (all codes; the kept ones, by bitmap and by
// gaps) and then writes the chosen one: the same symbols up to four times, and the search is
// most of a save's time. The last two plans are kept for that.
const PairCode& planned(std::span<const uint32_t> symbols, int alphabet) {
  struct Recent {
    int alphabet = 0;
    std::vector<uint32_t> symbols;
    PairCode code;
  };
  thread_local std::array<Recent, 2> recent;
  thread_local size_t oldest = 0;
  for (const Recent& r : recent)
    if (r.alphabet == alphabet && std::ranges::equal(r.symbols, symbols)) return r.code;
  Recent& r = recent[oldest];
  oldest = (oldest + 1) % recent.size();
  r = Recent{alphabet, {symbols.begin(), symbols.end()}, plan(symbols, alphabet)};
  return r.code;
}

}  // namespace

int64_t pair_block_bytes(std::span<const uint32_t> symbols, int alphabet) {
  const PairCode& code = planned(symbols, alphabet);
  if (code.half_bits.empty()) return -1;
  return table_bytes(alphabet) + static_cast<int64_t>((code.bits + 7) / 8);
}

void write_pair_block(std::span<const uint32_t> symbols, int alphabet, std::string& out) {
  const PairCode& code = planned(symbols, alphabet);
  if (code.half_bits.empty())
    throw Error::internal("a pair block needs an alphabet of 2.." + std::to_string(kMaxPairAlphabet) +
                          " symbols and two or more distinct symbols");
  // The half-bit lengths, 5 bits each, least significant bit first.
  const size_t start = out.size();
  out.append(static_cast<size_t>(table_bytes(alphabet)), '\0');
  for (size_t s = 0; s < code.half_bits.size(); ++s)
    for (int bit = 0; bit < kHalfBitLengthBits; ++bit)
      if ((code.half_bits[s] >> bit) & 1) {
        const size_t at = s * kHalfBitLengthBits + static_cast<size_t>(bit);
        out[start + at / 8] = static_cast<char>(out[start + at / 8] | (1 << (at % 8)));
      }
  append_codes(pairs_of(symbols, alphabet, pad_symbol(code.half_bits)), code.lengths, out);
}

PairBlockReader::PairBlockReader(std::string_view bytes, int alphabet, std::string what)
    : what_(std::move(what)) {
  if (alphabet < 2 || alphabet > kMaxPairAlphabet)
    throw Error::bad_input(what_ + " is a pair block over " + std::to_string(alphabet) +
                           " symbols; pair blocks code 2.." + std::to_string(kMaxPairAlphabet));
  table_bytes_ = table_bytes(alphabet);
  require(static_cast<int64_t>(bytes.size()) >= table_bytes_,
          what_ + " ends before its half-bit lengths (needs " + std::to_string(table_bytes_) +
              " bytes, " + std::to_string(bytes.size()) + " left)");
  const auto* table = reinterpret_cast<const unsigned char*>(bytes.data());
  auto bit_at = [&](int64_t at) { return (table[at / 8] >> (at % 8)) & 1; };
  std::vector<uint8_t> half_bits(static_cast<size_t>(alphabet), 0);
  for (int s = 0; s < alphabet; ++s)
    for (int bit = 0; bit < kHalfBitLengthBits; ++bit)
      half_bits[static_cast<size_t>(s)] |=
          static_cast<uint8_t>(bit_at(int64_t{s} * kHalfBitLengthBits + bit) << bit);
  for (int64_t at = int64_t{alphabet} * kHalfBitLengthBits; at < table_bytes_ * 8; ++at)
    require(bit_at(at) == 0, what_ + " has bits set in its half-bit lengths past its " +
                                 std::to_string(alphabet) + " symbols");
  const auto used = std::count_if(half_bits.begin(), half_bits.end(), [](uint8_t q) { return q != 0; });
  require(used >= 2, what_ + " gives a length to " + std::to_string(used) +
                         " symbols; a pair block codes two or more");
  pad_ = pad_symbol(half_bits);

  const std::vector<uint8_t> lengths = pair_lengths(half_bits);
  const std::vector<uint32_t> codes = stream_codes(lengths);
  table_bits_ = *std::max_element(lengths.begin(), lengths.end());
  table_.assign(size_t{1} << table_bits_, Entry{0, 0, 0});
  for (size_t p = 0; p < lengths.size(); ++p) {
    const int length = lengths[p];
    if (length == 0) continue;
    const Entry entry{static_cast<uint8_t>(p / static_cast<size_t>(alphabet)),
                      static_cast<uint8_t>(p % static_cast<size_t>(alphabet)), static_cast<uint8_t>(length)};
    for (uint32_t rest = 0; rest < (1u << (table_bits_ - length)); ++rest)
      table_[codes[p] | (rest << length)] = entry;
  }
  stream_ = StreamBits(table + table_bytes_, static_cast<int64_t>(bytes.size()) - table_bytes_);
}

uint32_t PairBlockReader::next_pair() {
  const Entry entry = table_[stream_.peek(table_bits_)];
  // Checked before building a message: this runs once per pair.
  if (entry.length == 0 || !stream_.consume(entry.length))
    throw Error::bad_input(what_ + " stream ends before its last symbol (" +
                           std::to_string(stream_.size()) + " bytes)");
  pending_ = entry.second;
  return entry.first;
}

void PairBlockReader::finish() const {
  require(pending_ < 0 || pending_ == pad_,
          what_ + " pairs its odd last symbol with symbol " + std::to_string(pending_) +
              " instead of the pad symbol " + std::to_string(pad_));
  // The rest of the last byte the codes reach must be zero; bytes past it are the tensor's
  // (its padding, checked by the container).
  require(stream_.rest_of_byte_is_zero(),
          what_ + " stream has bits set after its last symbol");
}

int64_t PairBlockReader::bytes_used() const {
  return table_bytes_ + stream_.bytes_reached();
}

}  // namespace shrink::coding
