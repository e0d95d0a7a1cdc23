#include "shrink/io/tensor_encoding.hpp"

#include "shrink/core/error.hpp"

#include <array>
#include <bit>
#include <cstring>
#include <limits>
#include <vector>

namespace shrink {
namespace {

// The stored formats assume IEEE-754 binary32 values and 8-bit bytes.
static_assert(std::numeric_limits<float>::is_iec559 && sizeof(float) == 4);
static_assert(sizeof(uint32_t) == 4 && std::numeric_limits<unsigned char>::digits == 8);

constexpr int64_t kValueBytes = 4;     // one F32 value
constexpr int64_t kCountBytes = 4;     // the u32 kept count of sparse-delta8
constexpr int64_t kMaxGap = 255;       // largest gap one sparse-delta8 byte can say
constexpr uint8_t kFillerGap = 0;      // sparse-delta8: advance kMaxGap, keep nothing

// --- little-endian primitives ----------------------------------------------------------

void put_u32(std::string& out, uint32_t value) {
  const char bytes[4] = {static_cast<char>(value), static_cast<char>(value >> 8),
                         static_cast<char>(value >> 16), static_cast<char>(value >> 24)};
  out.append(bytes, 4);
}

uint32_t get_u32(const char* bytes) {
  const auto* b = reinterpret_cast<const unsigned char*>(bytes);
  return uint32_t{b[0]} | uint32_t{b[1]} << 8 | uint32_t{b[2]} << 16 | uint32_t{b[3]} << 24;
}

void put_f32(std::string& out, float value) { put_u32(out, std::bit_cast<uint32_t>(value)); }
float get_f32(const char* bytes) { return std::bit_cast<float>(get_u32(bytes)); }

// Appends `count` floats; a plain copy on little-endian machines.
void put_f32_array(std::string& out, const float* values, int64_t count) {
  if constexpr (std::endian::native == std::endian::little) {
    out.append(reinterpret_cast<const char*>(values), static_cast<size_t>(count * kValueBytes));
  } else {
    for (int64_t i = 0; i < count; ++i) put_f32(out, values[i]);
  }
}

void get_f32_array(const char* bytes, float* values, int64_t count) {
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(values, bytes, static_cast<size_t>(count * kValueBytes));
  } else {
    for (int64_t i = 0; i < count; ++i) values[i] = get_f32(bytes + i * kValueBytes);
  }
}

int64_t kept_count(const Parameter& parameter) {
  int64_t kept = 0;
  for (int64_t i = 0; i < parameter.value.numel(); ++i) kept += is_kept(parameter, i);
  return kept;
}

// Starts a decode: zero values (and an all-pruned mask) that the kept elements then fill.
void reset_for_decode(Parameter& parameter, bool restore_mask) {
  parameter.value.zero();
  if (restore_mask) parameter.mask = Tensor(parameter.value.shape(), 0.0f);
  else parameter.mask = Tensor();
}

// --- dense: F32 values as they are ----------------------------------------------------

int64_t dense_size(const Parameter& parameter) { return parameter.value.numel() * kValueBytes; }

void dense_encode(const Parameter& parameter, std::string& out) {
  put_f32_array(out, parameter.value.data(), parameter.value.numel());
}

int64_t dense_decode(std::string_view bytes, Parameter& parameter, bool restore_mask) {
  const int64_t need = dense_size(parameter);
  require(static_cast<int64_t>(bytes.size()) >= need,
          "dense data has " + std::to_string(bytes.size()) + " bytes, the shape needs " +
              std::to_string(need));
  require(!restore_mask, "the dense encoding cannot record a mask");
  get_f32_array(bytes.data(), parameter.value.data(), parameter.value.numel());
  parameter.mask = Tensor();
  return need;
}

// --- sparse-bitmap: ceil(n/8) bytes of keep bits (LSB first), then the kept values ----

int64_t bitmap_bytes(int64_t n) { return (n + 7) / 8; }

int64_t bitmap_size(const Parameter& parameter) {
  return bitmap_bytes(parameter.value.numel()) + kept_count(parameter) * kValueBytes;
}

void bitmap_encode(const Parameter& parameter, std::string& out) {
  const int64_t n = parameter.value.numel();
  const size_t bitmap_start = out.size();
  out.append(static_cast<size_t>(bitmap_bytes(n)), '\0');
  for (int64_t i = 0; i < n; ++i)
    if (is_kept(parameter, i))
      out[bitmap_start + static_cast<size_t>(i >> 3)] |= static_cast<char>(1u << (i & 7));
  for (int64_t i = 0; i < n; ++i)
    if (is_kept(parameter, i)) put_f32(out, parameter.value[i]);
}

int64_t bitmap_decode(std::string_view bytes, Parameter& parameter, bool restore_mask) {
  const int64_t n = parameter.value.numel();
  const int64_t map_bytes = bitmap_bytes(n);
  const int64_t available = static_cast<int64_t>(bytes.size());
  require(available >= map_bytes, "sparse-bitmap data has " + std::to_string(available) +
                                      " bytes, its bitmap alone needs " +
                                      std::to_string(map_bytes));
  const auto* map = reinterpret_cast<const unsigned char*>(bytes.data());
  int64_t kept = 0;
  for (int64_t b = 0; b < map_bytes; ++b) kept += std::popcount(map[b]);
  // Bits past the last element must be clear, or the count below would include ghosts.
  if (n % 8 != 0)
    require((map[map_bytes - 1] >> (n % 8)) == 0,
            "sparse-bitmap has bits set past the tensor's " + std::to_string(n) + " elements");
  const int64_t need = map_bytes + kept * kValueBytes;
  require(available >= need, "sparse-bitmap data has " + std::to_string(available) +
                                 " bytes, its " + std::to_string(kept) +
                                 " kept values need " + std::to_string(need));
  reset_for_decode(parameter, restore_mask);
  const char* values = bytes.data() + map_bytes;
  for (int64_t i = 0; i < n; ++i) {
    if (!((map[i >> 3] >> (i & 7)) & 1u)) continue;
    parameter.value[i] = get_f32(values);
    values += kValueBytes;
    if (restore_mask) parameter.mask[i] = 1.0f;
  }
  return need;
}

// --- sparse-delta8: u32 kept count, one gap byte per kept element (0 = filler that
//     advances 255 without keeping), then the kept values ----------------------------------

int64_t delta8_size(const Parameter& parameter) {
  const int64_t n = parameter.value.numel();
  int64_t kept = 0;
  int64_t gap_bytes = 0;
  int64_t previous = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (!is_kept(parameter, i)) continue;
    gap_bytes += 1 + (i - previous - 1) / kMaxGap;
    previous = i;
    ++kept;
  }
  if (kept > std::numeric_limits<uint32_t>::max()) return kNotApplicable;
  return kCountBytes + gap_bytes + kept * kValueBytes;
}

void delta8_encode(const Parameter& parameter, std::string& out) {
  const int64_t n = parameter.value.numel();
  put_u32(out, static_cast<uint32_t>(kept_count(parameter)));
  int64_t previous = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (!is_kept(parameter, i)) continue;
    int64_t gap = i - previous;
    for (; gap > kMaxGap; gap -= kMaxGap) out.push_back(static_cast<char>(kFillerGap));
    out.push_back(static_cast<char>(gap));
    previous = i;
  }
  for (int64_t i = 0; i < n; ++i)
    if (is_kept(parameter, i)) put_f32(out, parameter.value[i]);
}

int64_t delta8_decode(std::string_view bytes, Parameter& parameter, bool restore_mask) {
  const int64_t n = parameter.value.numel();
  const int64_t available = static_cast<int64_t>(bytes.size());
  require(available >= kCountBytes, "sparse-delta8 data has " + std::to_string(available) +
                                        " bytes, too few for its kept count");
  const int64_t kept = get_u32(bytes.data());
  require(kept <= n, "sparse-delta8 says " + std::to_string(kept) +
                         " elements are kept but the tensor has only " + std::to_string(n));
  reset_for_decode(parameter, restore_mask);
  const auto* gaps = reinterpret_cast<const unsigned char*>(bytes.data());
  int64_t at = kCountBytes;
  int64_t position = -1;
  std::vector<int64_t> indices;
  indices.reserve(static_cast<size_t>(kept));
  while (static_cast<int64_t>(indices.size()) < kept) {
    require(at < available, "sparse-delta8 index stream ends after " +
                                std::to_string(indices.size()) + " of " + std::to_string(kept) +
                                " kept elements");
    const unsigned gap = gaps[at++];
    position += gap == kFillerGap ? kMaxGap : gap;
    require(position < n, "sparse-delta8 index " + std::to_string(position) +
                              " is past the tensor's " + std::to_string(n) + " elements");
    if (gap != kFillerGap) indices.push_back(position);
  }
  const int64_t need = at + kept * kValueBytes;
  require(available >= need, "sparse-delta8 data has " + std::to_string(available) +
                                 " bytes, its " + std::to_string(kept) + " kept values need " +
                                 std::to_string(need));
  const char* values = bytes.data() + at;
  for (int64_t index : indices) {
    parameter.value[index] = get_f32(values);
    values += kValueBytes;
    if (restore_mask) parameter.mask[index] = 1.0f;
  }
  return need;
}

// One row per encoding. Order breaks ties in size, so plain dense comes first.
constexpr std::array<TensorEncoding, 3> kEncodings = {{
    {"dense", "F32", false, dense_size, dense_encode, dense_decode},
    {"sparse-bitmap", "U8", true, bitmap_size, bitmap_encode, bitmap_decode},
    {"sparse-delta8", "U8", true, delta8_size, delta8_encode, delta8_decode},
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
