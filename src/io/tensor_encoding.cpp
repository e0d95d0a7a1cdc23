#include "shrink/io/tensor_encoding.hpp"

#include "core/byte_io.hpp"
#include "shrink/core/error.hpp"

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

const char* quantized_name(Positions positions) {
  switch (positions) {
    case Positions::All: return "quantized";
    case Positions::Bitmap: return "quantized-bitmap";
    case Positions::Delta8: return "quantized-delta8";
  }
  return "quantized";
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

template <Positions kPositions>
int64_t quantized_size(const Parameter& parameter) {
  if (!parameter.quantized()) return kNotApplicable;
  const int64_t n = parameter.value.numel();
  const Kept kept = quantized_kept(parameter);
  int64_t positions = 0;
  if constexpr (kPositions == Positions::Bitmap) positions = bitmap_bytes(n);
  if constexpr (kPositions == Positions::Delta8) positions = delta8_index_bytes(n, kept);
  if (positions == kNotApplicable) return kNotApplicable;
  const int64_t kept_count = kPositions == Positions::All ? n : count_kept(n, kept);
  return static_cast<int64_t>(quantizer_header(parameter).size()) + positions +
         code_bytes(kept_count, parameter.quantizer()->bits());
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

template <Positions kPositions>
void quantized_encode(const Parameter& parameter, std::string& out) {
  const int64_t n = parameter.value.numel();
  const Kept kept = quantized_kept(parameter);
  out += quantizer_header(parameter);
  if constexpr (kPositions == Positions::Bitmap) write_bitmap(n, kept, out);
  if constexpr (kPositions == Positions::Delta8) write_delta8_indices(n, kept, out);
  const std::vector<uint32_t> codes = codes_of(parameter, kept);
  const int bits = parameter.quantizer()->bits();
  // Codes back to back, least significant bit first.
  uint64_t buffer = 0;
  int filled = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (!kept(i)) continue;
    buffer |= uint64_t{codes[static_cast<size_t>(i)]} << filled;
    filled += bits;
    for (; filled >= 8; filled -= 8, buffer >>= 8) out.push_back(static_cast<char>(buffer));
  }
  if (filled > 0) out.push_back(static_cast<char>(buffer));
}

template <Positions kPositions>
int64_t quantized_decode(std::string_view payload, Parameter& parameter, bool restore_mask) {
  const std::string name = quantized_name(kPositions);
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
  if constexpr (kPositions == Positions::Delta8)
    indices = read_delta8_indices(rest, n, name, positions_used);
  in.take(positions_used, "positions");

  const int bits = quantizer->bits();
  const int64_t kept = static_cast<int64_t>(indices.size());
  const std::string_view packed = in.take(code_bytes(kept, bits), "codes");
  // Elements not stored (pruned) decode from code 0, which every format has, then load as 0.
  std::vector<uint32_t> codes(static_cast<size_t>(n), 0);
  const uint64_t code_mask = (uint64_t{1} << bits) - 1;
  uint64_t buffer = 0;
  int filled = 0;
  size_t next_byte = 0;
  for (int64_t index : indices) {
    while (filled < bits) {
      buffer |= uint64_t{static_cast<unsigned char>(packed[next_byte++])} << filled;
      filled += 8;
    }
    codes[static_cast<size_t>(index)] = static_cast<uint32_t>(buffer & code_mask);
    buffer >>= bits;
    filled -= bits;
  }
  require(buffer == 0, name + " data has bits set past its last code");

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

// One row per encoding. Order breaks ties in size, so plain dense comes first.
constexpr std::array<TensorEncoding, 6> kEncodings = {{
    {"dense", "F32", false, false, dense_size, dense_encode, dense_decode},
    {"sparse-bitmap", "U8", true, false, bitmap_size, bitmap_encode, bitmap_decode},
    {"sparse-delta8", "U8", true, false, delta8_size, delta8_encode, delta8_decode},
    {"quantized", "U8", false, true, quantized_size<Positions::All>,
     quantized_encode<Positions::All>, quantized_decode<Positions::All>},
    {"quantized-bitmap", "U8", true, true, quantized_size<Positions::Bitmap>,
     quantized_encode<Positions::Bitmap>, quantized_decode<Positions::Bitmap>},
    {"quantized-delta8", "U8", true, true, quantized_size<Positions::Delta8>,
     quantized_encode<Positions::Delta8>, quantized_decode<Positions::Delta8>},
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
