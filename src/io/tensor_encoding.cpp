#include "shrink/io/tensor_encoding.hpp"

#include "compress/coding/huffman.hpp"
#include "compress/coding/pair_huffman.hpp"
#include "core/byte_io.hpp"
#include "nn/quant/code_groups.hpp"
#include "shrink/core/error.hpp"
#include "shrink/io/code_statistics.hpp"

#include <array>
#include <bit>
#include <functional>
#include <limits>
#include <vector>

namespace shrink {
namespace {

// The stored formats assume IEEE-754 binary32 values and 8-bit bytes (core/byte_io.hpp).
static_assert(sizeof(uint32_t) == 4);

using bytes::put_f32;
using bytes::get_f32;
using bytes::put_u32;
using bytes::get_u32;

constexpr int64_t kValueBytes = 4;     // one F32 value
constexpr int64_t kCountBytes = 4;     // the u32 kept count of sparse-delta8
constexpr int64_t kMaxGap = 255;       // largest gap one sparse-delta8 byte can say
constexpr uint8_t kFillerGap = 0;      // sparse-delta8: advance kMaxGap, keep nothing

using Kept = std::function<bool(int64_t)>;

Kept kept_of(const Parameter& parameter) {
  return [&parameter](int64_t i) { return is_kept(parameter, i); };
}

int64_t count_kept(int64_t n, const Kept& kept) {
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i) count += kept(i);
  return count;
}

// Starts a decode: zero values (and an all-pruned mask) that the kept elements then fill.
void reset_for_decode(Parameter& parameter, bool restore_mask) {
  parameter.set_quantizer(nullptr);
  parameter.value.zero();
  if (restore_mask) parameter.mask = Tensor(parameter.value.shape(), 0.0f);
  else parameter.mask = Tensor();
}

// --- kept positions, shared by the float and the quantized sparse rows ---------------------
//   bitmap: ceil(n/8) bytes of keep bits, least significant first;
//   delta8: u32 kept count, then one gap byte per kept element (0 = a filler that advances
//           255 without keeping).

int64_t bitmap_bytes(int64_t n) { return (n + 7) / 8; }

void write_bitmap(int64_t n, const Kept& kept, std::string& out) {
  const size_t start = out.size();
  out.append(static_cast<size_t>(bitmap_bytes(n)), '\0');
  for (int64_t i = 0; i < n; ++i)
    if (kept(i)) out[start + static_cast<size_t>(i >> 3)] |= static_cast<char>(1u << (i & 7));
}

// The kept indices of the bitmap at the front of `bytes`; `name` is the encoding's.
std::vector<int64_t> read_bitmap(std::string_view bytes, int64_t n, const std::string& name) {
  const int64_t map_bytes = bitmap_bytes(n);
  const int64_t available = static_cast<int64_t>(bytes.size());
  require(available >= map_bytes, name + " data has " + std::to_string(available) +
                                      " bytes, its bitmap alone needs " +
                                      std::to_string(map_bytes));
  const auto* map = reinterpret_cast<const unsigned char*>(bytes.data());
  // Bits past the last element must be clear, or they would count as ghosts.
  if (n % 8 != 0)
    require((map[map_bytes - 1] >> (n % 8)) == 0,
            name + " has bits set past the tensor's " + std::to_string(n) + " elements");
  std::vector<int64_t> indices;
  for (int64_t i = 0; i < n; ++i)
    if ((map[i >> 3] >> (i & 7)) & 1u) indices.push_back(i);
  return indices;
}

int64_t delta8_index_bytes(int64_t n, const Kept& kept) {
  int64_t count = 0;
  int64_t gap_bytes = 0;
  int64_t previous = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (!kept(i)) continue;
    gap_bytes += 1 + (i - previous - 1) / kMaxGap;
    previous = i;
    ++count;
  }
  if (count > std::numeric_limits<uint32_t>::max()) return kNotApplicable;
  return kCountBytes + gap_bytes;
}

void write_delta8_indices(int64_t n, const Kept& kept, std::string& out) {
  put_u32(out, static_cast<uint32_t>(count_kept(n, kept)));
  int64_t previous = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (!kept(i)) continue;
    int64_t gap = i - previous;
    for (; gap > kMaxGap; gap -= kMaxGap) out.push_back(static_cast<char>(kFillerGap));
    out.push_back(static_cast<char>(gap));
    previous = i;
  }
}

// The kept indices of the delta8 index stream at the front of `bytes`; `used` receives its
// length.
std::vector<int64_t> read_delta8_indices(std::string_view bytes, int64_t n,
                                         const std::string& name, int64_t& used) {
  const int64_t available = static_cast<int64_t>(bytes.size());
  require(available >= kCountBytes, name + " data has " + std::to_string(available) +
                                        " bytes, too few for its kept count");
  const int64_t kept = get_u32(bytes.data());
  require(kept <= n, name + " says " + std::to_string(kept) +
                         " elements are kept but the tensor has only " + std::to_string(n));
  const auto* gaps = reinterpret_cast<const unsigned char*>(bytes.data());
  int64_t at = kCountBytes;
  int64_t position = -1;
  std::vector<int64_t> indices;
  indices.reserve(static_cast<size_t>(kept));
  while (static_cast<int64_t>(indices.size()) < kept) {
    require(at < available, name + " index stream ends after " +
                                std::to_string(indices.size()) + " of " + std::to_string(kept) +
                                " kept elements");
    const unsigned gap = gaps[at++];
    position += gap == kFillerGap ? kMaxGap : gap;
    require(position < n, name + " index " + std::to_string(position) +
                              " is past the tensor's " + std::to_string(n) + " elements");
    if (gap != kFillerGap) indices.push_back(position);
  }
  used = at;
  return indices;
}

// Reads `indices.size()` F32 values after `at` into the kept elements.
int64_t read_kept_values(std::string_view bytes, int64_t at, const std::vector<int64_t>& indices,
                         const std::string& name, Parameter& parameter, bool restore_mask) {
  const int64_t kept = static_cast<int64_t>(indices.size());
  const int64_t need = at + kept * kValueBytes;
  require(static_cast<int64_t>(bytes.size()) >= need,
          name + " data has " + std::to_string(bytes.size()) + " bytes, its " +
              std::to_string(kept) + " kept values need " + std::to_string(need));
  reset_for_decode(parameter, restore_mask);
  const char* values = bytes.data() + at;
  for (int64_t index : indices) {
    parameter.value[index] = get_f32(values);
    values += kValueBytes;
    if (restore_mask) parameter.mask[index] = 1.0f;
  }
  return need;
}

void write_kept_values(const Parameter& parameter, std::string& out) {
  for (int64_t i = 0; i < parameter.value.numel(); ++i)
    if (is_kept(parameter, i)) put_f32(out, parameter.value[i]);
}

// --- dense: F32 values as they are ----------------------------------------------------

int64_t dense_size(const Parameter& parameter) { return parameter.value.numel() * kValueBytes; }

void dense_encode(const Parameter& parameter, std::string& out) {
  bytes::put_f32_array(out, parameter.value.data(), parameter.value.numel());
}

int64_t dense_decode(std::string_view bytes, Parameter& parameter, bool restore_mask) {
  const int64_t need = dense_size(parameter);
  require(static_cast<int64_t>(bytes.size()) >= need,
          "dense data has " + std::to_string(bytes.size()) + " bytes, the shape needs " +
              std::to_string(need));
  require(!restore_mask, "the dense encoding cannot record a mask");
  parameter.set_quantizer(nullptr);
  bytes::get_f32_array(bytes.data(), parameter.value.data(), parameter.value.numel());
  parameter.mask = Tensor();
  return need;
}

// --- sparse-bitmap: the bitmap, then the kept values ------------------------------------

int64_t bitmap_size(const Parameter& parameter) {
  const int64_t n = parameter.value.numel();
  return bitmap_bytes(n) + count_kept(n, kept_of(parameter)) * kValueBytes;
}

void bitmap_encode(const Parameter& parameter, std::string& out) {
  write_bitmap(parameter.value.numel(), kept_of(parameter), out);
  write_kept_values(parameter, out);
}

int64_t bitmap_decode(std::string_view bytes, Parameter& parameter, bool restore_mask) {
  const int64_t n = parameter.value.numel();
  const std::vector<int64_t> indices = read_bitmap(bytes, n, "sparse-bitmap");
  return read_kept_values(bytes, bitmap_bytes(n), indices, "sparse-bitmap", parameter,
                          restore_mask);
}

// --- sparse-delta8: the delta8 index stream, then the kept values ------------------------

int64_t delta8_size(const Parameter& parameter) {
  const int64_t n = parameter.value.numel();
  const Kept kept = kept_of(parameter);
  const int64_t index_bytes = delta8_index_bytes(n, kept);
  if (index_bytes == kNotApplicable) return kNotApplicable;
  return index_bytes + count_kept(n, kept) * kValueBytes;
}

void delta8_encode(const Parameter& parameter, std::string& out) {
  write_delta8_indices(parameter.value.numel(), kept_of(parameter), out);
  write_kept_values(parameter, out);
}

int64_t delta8_decode(std::string_view bytes, Parameter& parameter, bool restore_mask) {
  int64_t at = 0;
  const std::vector<int64_t> indices =
      read_delta8_indices(bytes, parameter.value.numel(), "sparse-delta8", at);
  return read_kept_values(bytes, at, indices, "sparse-delta8", parameter, restore_mask);
}

// --- quantized rows: the quantizer (format name and state), the kept positions (all, bitmap
//     or delta8), then the codes of the kept elements at the format's bit width -------------

enum class Positions { All, Bitmap, Delta8 };

// Codes packed at their bit width, Huffman-coded one by one (compress/coding/huffman.hpp) or
// two by two (compress/coding/pair_huffman.hpp); when coded, the delta8 gaps are Huffman-coded
// one by one.
enum class Codes { Packed, Huffman, PairHuffman };

std::string quantized_name(Positions positions, Codes coding) {
  std::string name = "quantized";
  if (positions == Positions::Bitmap) name += "-bitmap";
  if (positions == Positions::Delta8) name += "-delta8";
  if (coding == Codes::Huffman) name += "-huffman";
  if (coding == Codes::PairHuffman) name += "-pair-huffman";
  return name;
}

// A quantized parameter stores every element, or the mask's kept ones.
Kept quantized_kept(const Parameter& parameter) {
  if (!parameter.has_mask()) return [](int64_t) { return true; };
  return [&parameter](int64_t i) { return parameter.mask[i] != 0.0f; };
}

std::string quantizer_header(const Parameter& parameter) {
  // The state that follows the latent weight (a range, alpha) is current once the effective
  // weight is.
  parameter.effective();
  const Quantizer& quantizer = *parameter.quantizer();
  const std::string name = quantizer.format().name;
  std::string state;
  quantizer.write_state(state);
  std::string out;
  bytes::put_u8(out, static_cast<uint8_t>(name.size()));
  out += name;
  put_u32(out, static_cast<uint32_t>(state.size()));
  out += state;
  return out;
}

int64_t code_bytes(int64_t count, int bits) { return (count * bits + 7) / 8; }

// Huffman blocks code at most 256 symbols: codes of up to 8 bits.
bool huffman_applies(const Parameter& parameter) {
  return parameter.quantized() && parameter.quantizer()->bits() <= 8;
}

// The delta8 gap bytes of the kept positions, as Huffman symbols (the u32 count left out).
std::vector<uint32_t> gap_symbols(int64_t n, const Kept& kept) {
  std::string stream;
  write_delta8_indices(n, kept, stream);
  return std::vector<uint32_t>(reinterpret_cast<const unsigned char*>(stream.data()) + kCountBytes,
                               reinterpret_cast<const unsigned char*>(stream.data() + stream.size()));
}

std::vector<uint32_t> codes_of(const Parameter& parameter, const Kept& kept);

quant::CodeGroups code_groups_of(const Parameter& parameter) {
  return quant::code_groups(*parameter.quantizer(), parameter.value.shape());
}

// The stored codes: one per group of elements that share a code (quant/code_groups.hpp) and
// hold a kept element, in index order. Every format but pq has one element per group.
std::vector<uint32_t> kept_codes(const Parameter& parameter, const Kept& kept) {
  const std::vector<uint32_t> codes = codes_of(parameter, kept);
  const quant::CodeGroups groups = code_groups_of(parameter);
  std::vector<uint32_t> out;
  int64_t last_group = -1;
  for (int64_t i = 0; i < parameter.value.numel(); ++i) {
    if (!kept(i) || groups.group_of(i) == last_group) continue;
    last_group = groups.group_of(i);
    out.push_back(codes[static_cast<size_t>(i)]);
  }
  return out;
}

// How many codes kept_codes stores, without encoding them.
int64_t count_stored_codes(int64_t n, const Kept& kept, const quant::CodeGroups& groups) {
  int64_t count = 0, last_group = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (!kept(i) || groups.group_of(i) == last_group) continue;
    last_group = groups.group_of(i);
    ++count;
  }
  return count;
}

template <Positions kPositions, Codes kCodes>
int64_t quantized_size(const Parameter& parameter) {
  if (!parameter.quantized()) return kNotApplicable;
  if (kCodes != Codes::Packed && !huffman_applies(parameter)) return kNotApplicable;
  if (kCodes == Codes::PairHuffman && (1 << parameter.quantizer()->bits()) > coding::kMaxPairAlphabet)
    return kNotApplicable;
  const int64_t n = parameter.value.numel();
  const Kept kept = quantized_kept(parameter);
  int64_t positions = 0;
  if constexpr (kPositions == Positions::Bitmap) positions = bitmap_bytes(n);
  if constexpr (kPositions == Positions::Delta8) {
    positions = delta8_index_bytes(n, kept);
    if (positions != kNotApplicable && kCodes != Codes::Packed)
      positions = kCountBytes + coding::block_bytes(coding::symbol_counts(gap_symbols(n, kept), 256));
  }
  if (positions == kNotApplicable) return kNotApplicable;
  const int bits = parameter.quantizer()->bits();
  int64_t codes = 0;
  if constexpr (kCodes == Codes::Packed)
    codes = code_bytes(count_stored_codes(n, kept, code_groups_of(parameter)), bits);
  if constexpr (kCodes == Codes::Huffman)
    codes = coding::block_bytes(coding::symbol_counts(kept_codes(parameter, kept), 1 << bits));
  if constexpr (kCodes == Codes::PairHuffman) {
    codes = coding::pair_block_bytes(kept_codes(parameter, kept), 1 << bits);
    if (codes < 0) return kNotApplicable;
  }
  return static_cast<int64_t>(quantizer_header(parameter).size()) + positions + codes;
}

// The code of every element of the effective weight, checked to decode back to it exactly.
std::vector<uint32_t> codes_of(const Parameter& parameter, const Kept& kept) {
  const Quantizer& quantizer = *parameter.quantizer();
  const Tensor& effective = parameter.effective();
  std::vector<uint32_t> codes(static_cast<size_t>(effective.numel()));
  quantizer.encode(effective, codes);
  Tensor decoded(effective.shape());
  quantizer.decode(codes, decoded);
  for (int64_t i = 0; i < effective.numel(); ++i)
    if (kept(i) && std::bit_cast<uint32_t>(decoded[i]) != std::bit_cast<uint32_t>(effective[i]))
      throw Error::bad_input("cannot store parameter " + parameter.name + ": its element " +
                             std::to_string(i) + " is " + std::to_string(effective[i]) +
                             ", which is not one of the levels of its " +
                             quantizer.format().name + " format");
  return codes;
}

template <Positions kPositions, Codes kCodes>
void quantized_encode(const Parameter& parameter, std::string& out) {
  const int64_t n = parameter.value.numel();
  const Kept kept = quantized_kept(parameter);
  out += quantizer_header(parameter);
  if constexpr (kPositions == Positions::Bitmap) write_bitmap(n, kept, out);
  if constexpr (kPositions == Positions::Delta8 && kCodes == Codes::Packed) write_delta8_indices(n, kept, out);
  const int bits = parameter.quantizer()->bits();
  if constexpr (kCodes != Codes::Packed) {
    if constexpr (kPositions == Positions::Delta8) {
      put_u32(out, static_cast<uint32_t>(count_kept(n, kept)));
      coding::write_block(gap_symbols(n, kept), 256, out);
    }
    if constexpr (kCodes == Codes::Huffman) coding::write_block(kept_codes(parameter, kept), 1 << bits, out);
    else coding::write_pair_block(kept_codes(parameter, kept), 1 << bits, out);
    return;
  }
  // Codes back to back, least significant bit first.
  uint64_t buffer = 0;
  int filled = 0;
  for (uint32_t code : kept_codes(parameter, kept)) {
    buffer |= uint64_t{code} << filled;
    filled += bits;
    for (; filled >= 8; filled -= 8, buffer >>= 8) out.push_back(static_cast<char>(buffer));
  }
  if (filled > 0) out.push_back(static_cast<char>(buffer));
}

// The kept positions of a Huffman-coded delta8 stream at the front of `bytes`: u32 kept count,
// then a block of gap symbols read as delta8 gap bytes. `used` receives its length.
std::vector<int64_t> read_huffman_gaps(std::string_view bytes, int64_t n, const std::string& name,
                                       int64_t& used) {
  bytes::Reader in(bytes, name + " data");
  const int64_t kept = in.u32("kept count");
  require(kept <= n, name + " says " + std::to_string(kept) +
                         " elements are kept but the tensor has only " + std::to_string(n));
  coding::BlockReader gaps(bytes.substr(kCountBytes), 256, name + " gaps");
  int64_t position = -1;
  std::vector<int64_t> indices;
  indices.reserve(static_cast<size_t>(kept));
  while (static_cast<int64_t>(indices.size()) < kept) {
    const uint32_t gap = gaps.next();
    position += gap == kFillerGap ? kMaxGap : gap;
    if (position >= n)  // checked before building a message: this runs once per gap
      throw Error::bad_input(name + " index " + std::to_string(position) + " is past the tensor's " +
                             std::to_string(n) + " elements");
    if (gap != kFillerGap) indices.push_back(position);
  }
  gaps.finish();
  used = kCountBytes + gaps.bytes_used();
  return indices;
}

template <Positions kPositions, Codes kCodes>
int64_t quantized_decode(std::string_view payload, Parameter& parameter, bool restore_mask) {
  const std::string name = quantized_name(kPositions, kCodes);
  const int64_t n = parameter.value.numel();
  bytes::Reader in(payload, name + " data");
  const int64_t name_length = in.u8("format name length");
  const std::string format_name(in.take(name_length, "format name"));
  const QuantizerFormat* format = find_quantizer_format(format_name);
  require(format != nullptr, name + " data uses unknown weight format '" + format_name +
                                 "' (known: " + quantizer_format_names() +
                                 "); it may need a newer shrink");
  const int64_t state_length = in.u32("state length");
  std::unique_ptr<Quantizer> quantizer =
      format->read_state(in.take(state_length, "quantizer state"), parameter.value.shape());

  std::vector<int64_t> indices;
  const std::string_view rest = payload.substr(static_cast<size_t>(in.position()));
  int64_t positions_used = 0;
  if constexpr (kPositions == Positions::All) {
    require(!restore_mask, "the " + name + " encoding cannot record a mask");
    indices.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) indices[static_cast<size_t>(i)] = i;
  }
  if constexpr (kPositions == Positions::Bitmap) {
    indices = read_bitmap(rest, n, name);
    positions_used = bitmap_bytes(n);
  }
  if constexpr (kPositions == Positions::Delta8) {
    if constexpr (kCodes != Codes::Packed) indices = read_huffman_gaps(rest, n, name, positions_used);
    else indices = read_delta8_indices(rest, n, name, positions_used);
  }
  in.take(positions_used, "positions");

  const int bits = quantizer->bits();
  // One code per group of stored elements (quant/code_groups.hpp); each stored element takes
  // its group's. Elements not stored (pruned) decode from code 0, which every format has, then
  // load as 0.
  const quant::CodeGroups groups = quant::code_groups(*quantizer, parameter.value.shape());
  int64_t stored_codes = 0;
  {
    int64_t last_group = -1;
    for (int64_t index : indices)
      if (groups.group_of(index) != last_group) {
        last_group = groups.group_of(index);
        ++stored_codes;
      }
  }
  std::vector<uint32_t> codes(static_cast<size_t>(n), 0);
  // Calls next() once per stored code and hands each stored element its group's code.
  auto distribute = [&](auto&& next) {
    int64_t last_group = -1;
    uint32_t code = 0;
    for (int64_t index : indices) {
      if (groups.group_of(index) != last_group) {
        last_group = groups.group_of(index);
        code = next();
      }
      codes[static_cast<size_t>(index)] = code;
    }
  };
  if constexpr (kCodes == Codes::Huffman) {
    require(bits <= 8, name + " data has " + std::to_string(bits) +
                           "-bit codes; Huffman blocks code at most 8 bits");
    coding::BlockReader block(payload.substr(static_cast<size_t>(in.position())), 1 << bits, name + " codes");
    distribute([&] { return block.next(); });
    block.finish();
    in.take(block.bytes_used(), "codes");
  } else if constexpr (kCodes == Codes::PairHuffman) {
    require(bits <= 5, name + " data has " + std::to_string(bits) +
                           "-bit codes; pair blocks code at most 5 bits");
    coding::PairBlockReader block(payload.substr(static_cast<size_t>(in.position())), 1 << bits,
                                  name + " codes");
    distribute([&] { return block.next(); });
    block.finish();
    in.take(block.bytes_used(), "codes");
  } else {
    const std::string_view packed = in.take(code_bytes(stored_codes, bits), "codes");
    const uint64_t code_mask = (uint64_t{1} << bits) - 1;
    uint64_t buffer = 0;
    int filled = 0;
    size_t next_byte = 0;
    distribute([&] {
      while (filled < bits) {
        buffer |= uint64_t{static_cast<unsigned char>(packed[next_byte++])} << filled;
        filled += 8;
      }
      const uint32_t code = static_cast<uint32_t>(buffer & code_mask);
      buffer >>= bits;
      filled -= bits;
      return code;
    });
    require(buffer == 0, name + " data has bits set past its last code");
  }

  reset_for_decode(parameter, restore_mask);
  quantizer->decode(codes, parameter.value);
  std::vector<char> is_stored(static_cast<size_t>(n), kPositions == Positions::All);
  for (int64_t index : indices) is_stored[static_cast<size_t>(index)] = 1;
  for (int64_t i = 0; i < n; ++i) {
    if (!is_stored[static_cast<size_t>(i)]) parameter.value[i] = 0.0f;
    else if (restore_mask) parameter.mask[i] = 1.0f;
  }
  parameter.set_quantizer(std::move(quantizer));
  parameter.adopt_value_as_effective();
  return in.position();
}

template <Positions kPositions, Codes kCodes>
constexpr TensorEncoding quantized_row(const char* name) {
  return {name, "U8", kPositions != Positions::All, true, quantized_size<kPositions, kCodes>,
          quantized_encode<kPositions, kCodes>, quantized_decode<kPositions, kCodes>};
}

// One row per encoding. Order breaks ties in size, so plain dense comes first, packed codes
// before Huffman-coded ones, and single-symbol Huffman codes before pair codes.
constexpr std::array<TensorEncoding, 12> kEncodings = {{
    {"dense", "F32", false, false, dense_size, dense_encode, dense_decode},
    {"sparse-bitmap", "U8", true, false, bitmap_size, bitmap_encode, bitmap_decode},
    {"sparse-delta8", "U8", true, false, delta8_size, delta8_encode, delta8_decode},
    quantized_row<Positions::All, Codes::Packed>("quantized"),
    quantized_row<Positions::Bitmap, Codes::Packed>("quantized-bitmap"),
    quantized_row<Positions::Delta8, Codes::Packed>("quantized-delta8"),
    quantized_row<Positions::All, Codes::Huffman>("quantized-huffman"),
    quantized_row<Positions::Bitmap, Codes::Huffman>("quantized-bitmap-huffman"),
    quantized_row<Positions::Delta8, Codes::Huffman>("quantized-delta8-huffman"),
    quantized_row<Positions::All, Codes::PairHuffman>("quantized-pair-huffman"),
    quantized_row<Positions::Bitmap, Codes::PairHuffman>("quantized-bitmap-pair-huffman"),
    quantized_row<Positions::Delta8, Codes::PairHuffman>("quantized-delta8-pair-huffman"),
}};

}  // namespace

bool is_kept(const Parameter& parameter, int64_t index) {
  if (parameter.has_mask()) return parameter.mask[index] != 0.0f;
  return std::bit_cast<uint32_t>(parameter.value[index]) != 0;
}

std::span<const TensorEncoding> tensor_encodings() { return kEncodings; }

const TensorEncoding* find_tensor_encoding(std::string_view name) {
  for (const TensorEncoding& encoding : kEncodings)
    if (name == encoding.name) return &encoding;
  return nullptr;
}

std::string tensor_encoding_names() {
  std::string names;
  for (const TensorEncoding& encoding : kEncodings)
    names += (names.empty() ? "" : ", ") + std::string(encoding.name);
  return names;
}

const TensorEncoding& choose_tensor_encoding(const Parameter& parameter) {
  if (parameter.has_mask() && parameter.mask.shape() != parameter.value.shape())
    throw Error::internal("parameter " + parameter.name + " has a mask of shape " +
                          to_string(parameter.mask.shape()) + " but values of shape " +
                          to_string(parameter.value.shape()));
  const TensorEncoding* best = nullptr;
  int64_t best_size = 0;
  for (const TensorEncoding& encoding : kEncodings) {
    if (parameter.has_mask() && !encoding.stores_mask) continue;
    if (parameter.quantized() != encoding.stores_quantizer) continue;
    const int64_t size = encoding.encoded_size(parameter);
    if (size == kNotApplicable) continue;
    if (best == nullptr || size < best_size) {
      best = &encoding;
      best_size = size;
    }
  }
  if (best == nullptr)
    throw Error::internal("no tensor encoding can store parameter " + parameter.name);
  return *best;
}

}  // namespace shrink

namespace shrink {

std::optional<CodeStatistics> code_statistics(const Parameter& parameter) {
  if (!huffman_applies(parameter)) return std::nullopt;
  const Kept kept = quantized_kept(parameter);
  CodeStatistics statistics;
  const std::vector<uint32_t> codes = kept_codes(parameter, kept);
  statistics.codes = static_cast<int64_t>(codes.size());
  statistics.code_entropy_bits =
      coding::entropy_bits(coding::symbol_counts(codes, 1 << parameter.quantizer()->bits()));
  if (parameter.has_mask()) {
    const std::vector<uint32_t> gaps = gap_symbols(parameter.value.numel(), kept);
    statistics.gaps = static_cast<int64_t>(gaps.size());
    statistics.gap_entropy_bits = coding::entropy_bits(coding::symbol_counts(gaps, 256));
  }
  return statistics;
}

int64_t bytes_without_entropy_coding(const Parameter& parameter) {
  int64_t best = kNotApplicable;
  for (const TensorEncoding& encoding : kEncodings) {
    if (std::string_view(encoding.name).ends_with("-huffman")) continue;
    if (parameter.has_mask() && !encoding.stores_mask) continue;
    if (parameter.quantized() != encoding.stores_quantizer) continue;
    const int64_t size = encoding.encoded_size(parameter);
    if (size != kNotApplicable && (best == kNotApplicable || size < best)) best = size;
  }
  return best;
}

}  // namespace shrink
