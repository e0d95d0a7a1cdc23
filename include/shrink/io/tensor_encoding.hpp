#pragma once
// How a parameter's values are stored in a .shrk file. Each encoding is one row of a traits
// table (as ggml's type_traits): its name in the file, the safetensors dtype of its bytes, an
// exact size, encode and decode. The writer picks the row with the fewest bytes; the reader
// dispatches on the name. A new storage format (a Huffman stream over codes and positions) is
// a new row whose bytes carry everything needed to decode them.
//
// Byte layouts are specified in docs/file-format.md; all numbers are little-endian.
#include "shrink/nn/parameter.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace shrink {

struct TensorEncoding {
  const char* name;   // written to the file: "dense", "sparse-bitmap", ...
  const char* dtype;  // safetensors dtype of the stored bytes: "F32" (shape as the parameter) or
                      // "U8" (shape [byte count])
  // The bytes record exactly which elements are kept, so a masked (pruned) parameter may use
  // this encoding and gets its mask back on load.
  bool stores_mask;
  // The bytes are a quantized parameter's codes and its quantizer's state: only quantized
  // parameters use the row (and only such rows), and they load with their quantizer.
  bool stores_quantizer;
  // Exact number of bytes encode() appends for `parameter`, or kNotApplicable when this
  // encoding cannot represent it (say, a codebook encoding for a parameter without a codebook).
  int64_t (*encoded_size)(const Parameter& parameter);
  // Appends the encoded bytes of `parameter` to `out`.
  void (*encode)(const Parameter& parameter, std::string& out);
  // Fills `parameter.value` (already of the right shape) from the front of `bytes` and, when
  // `restore_mask`, sets `parameter.mask` to the kept elements. Returns the number of bytes
  // used; the rest is the container's padding. Throws a bad-input Error saying what is wrong
  // with the bytes (the caller adds the file and tensor).
  int64_t (*decode)(std::string_view bytes, Parameter& parameter, bool restore_mask);
};

inline constexpr int64_t kNotApplicable = -1;

// Which elements a sparse encoding keeps: a masked parameter keeps what its mask keeps (pruned
// entries load as zero); an unmasked one keeps every element whose bits are not all zero, so
// -0.0 and NaN payloads survive a round trip bit for bit.
bool is_kept(const Parameter& parameter, int64_t index);

// Every known encoding, in preference order for ties.
std::span<const TensorEncoding> tensor_encodings();
// The row named `name`, or nullptr.
const TensorEncoding* find_tensor_encoding(std::string_view name);
// "dense, sparse-bitmap, ..." for error messages.
std::string tensor_encoding_names();
// The encoding with the fewest bytes that reproduces the parameter exactly (its mask and its
// quantizer too, when it has them); ties go to the earlier row, so a dense tensor stays plain
// F32. A quantized parameter is stored as codes: its effective weight, never the latent one.
const TensorEncoding& choose_tensor_encoding(const Parameter& parameter);

}  // namespace shrink
