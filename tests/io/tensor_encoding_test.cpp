#include "shrink/core/error.hpp"
#include "shrink/core/random.hpp"
#include "shrink/io/tensor_encoding.hpp"
#include "support/errors.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>

namespace shrink {
namespace {

const TensorEncoding& encoding(std::string_view name) {
  const TensorEncoding* found = find_tensor_encoding(name);
  if (found == nullptr) throw std::runtime_error("no encoding " + std::string(name));
  return *found;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.data(), b.data(), static_cast<size_t>(a.numel()) * sizeof(float)) == 0;
}

// A parameter of `n` values where about `density` of them are kept (by a mask when `masked`).
Parameter sparse_parameter(int64_t n, double density, bool masked, uint64_t seed) {
  Rng rng(seed);
  Parameter p;
  p.name = "layer.weight";
  p.value = Tensor({n});
  if (masked) p.mask = Tensor({n});
  for (int64_t i = 0; i < n; ++i) {
    const bool keep = rng.uniform() < density;
    p.value[i] = keep ? rng.normal() : 0.0f;
    if (masked) p.mask[i] = keep ? 1.0f : 0.0f;
  }
  return p;
}

Parameter decode_as(const TensorEncoding& row, const std::string& bytes, const Shape& shape,
                    bool restore_mask, int64_t* used = nullptr) {
  Parameter out;
  out.name = "decoded";
  out.value = Tensor(shape, 123.0f);  // garbage the decoder must overwrite
  const int64_t consumed = row.decode(bytes, out, restore_mask);
  if (used) *used = consumed;
  return out;
}

using testing::bad_input_message;

TEST(TensorEncoding, TableRowsAreUniqueAndFindable) {
  std::set<std::string> names;
  for (const TensorEncoding& row : tensor_encodings()) {
    EXPECT_TRUE(names.insert(row.name).second) << row.name;
    EXPECT_EQ(find_tensor_encoding(row.name), &row);
    EXPECT_TRUE(std::string_view(row.dtype) == "F32" || std::string_view(row.dtype) == "U8");
  }
  EXPECT_TRUE(names.count("dense") && names.count("sparse-bitmap") && names.count("sparse-delta8"));
  EXPECT_EQ(find_tensor_encoding("huffman-9000"), nullptr);
  EXPECT_EQ(tensor_encoding_names(),
            "dense, sparse-bitmap, sparse-delta8, quantized, quantized-bitmap, quantized-delta8, "
            "quantized-huffman, quantized-bitmap-huffman, quantized-delta8-huffman, "
            "quantized-pair-huffman, quantized-bitmap-pair-huffman, quantized-delta8-pair-huffman");
}

TEST(TensorEncoding, EveryRowRoundTripsBitExactAndKeepsItsSizePromise) {
  for (bool masked : {false, true}) {
    for (double density : {0.0, 0.01, 0.3, 1.0}) {
      const Parameter p = sparse_parameter(1037, density, masked, 7);
      for (const TensorEncoding& row : tensor_encodings()) {
        if (masked && !row.stores_mask) continue;
        // The quantized rows store codes, so they apply only to quantized weights
        // (quantized_encoding_test.cpp round-trips those).
        if (std::string_view(row.name).starts_with("quantized")) {
          EXPECT_EQ(row.encoded_size(p), kNotApplicable) << row.name;
          continue;
        }
        const int64_t size = row.encoded_size(p);
        ASSERT_NE(size, kNotApplicable) << row.name;
        std::string bytes;
        row.encode(p, bytes);
        EXPECT_EQ(static_cast<int64_t>(bytes.size()), size) << row.name;
        int64_t used = 0;
        const Parameter back = decode_as(row, bytes, p.value.shape(), masked, &used);
        EXPECT_EQ(used, size) << row.name;
        EXPECT_TRUE(same_bits(back.value, p.value)) << row.name << " density " << density;
        EXPECT_EQ(back.has_mask(), masked) << row.name;
        if (masked) {
          EXPECT_TRUE(same_bits(back.mask, p.mask)) << row.name;
        }
      }
    }
  }
}

TEST(TensorEncoding, SparseBitmapBytesFollowTheSpec) {
  Parameter p;
  p.value = Tensor({10});
  p.value[0] = 1.0f;
  p.value[3] = -2.0f;
  p.value[9] = 0.5f;
  const TensorEncoding& row = encoding("sparse-bitmap");
  std::string bytes;
  row.encode(p, bytes);
  // Bits LSB first: elements 0 and 3 in byte 0, element 9 is bit 1 of byte 1.
  const std::string expected = std::string("\x09\x02", 2) + std::string("\x00\x00\x80\x3f", 4) +
                               std::string("\x00\x00\x00\xc0", 4) +
                               std::string("\x00\x00\x00\x3f", 4);
  EXPECT_EQ(bytes, expected);
}

TEST(TensorEncoding, SparseDelta8BridgesLongGapsWithFillers) {
  Parameter p;
  p.value = Tensor({302});
  p.value[0] = 1.0f;
  p.value[300] = 2.0f;
  p.value[301] = 3.0f;
  const TensorEncoding& row = encoding("sparse-delta8");
  std::string bytes;
  row.encode(p, bytes);
  // Count 3; gaps from index -1: 1; 300 = filler (255) + 45; 1; then the three values.
  const std::string expected = std::string("\x03\x00\x00\x00", 4) + std::string("\x01\x00\x2d\x01", 4) +
                               std::string("\x00\x00\x80\x3f", 4) +
                               std::string("\x00\x00\x00\x40", 4) +
                               std::string("\x00\x00\x40\x40", 4);
  EXPECT_EQ(bytes, expected);
  const Parameter back = decode_as(row, bytes, {302}, false);
  EXPECT_TRUE(same_bits(back.value, p.value));
}

TEST(TensorEncoding, SparseDelta8HandlesGapsAtTheFillerBoundaries) {
  for (int64_t gap : {254, 255, 256, 509, 510, 511, 1000}) {
    Parameter p;
    p.mask = Tensor({gap + 5});
    p.value = Tensor({gap + 5});
    for (int64_t i : {int64_t{0}, gap, gap + 4}) {
      p.mask[i] = 1.0f;
      p.value[i] = static_cast<float>(i) + 0.25f;
    }
    p.value[gap] = 0.0f;  // kept by the mask although it is zero
    const TensorEncoding& row = encoding("sparse-delta8");
    std::string bytes;
    row.encode(p, bytes);
    EXPECT_EQ(static_cast<int64_t>(bytes.size()), row.encoded_size(p)) << gap;
    const Parameter back = decode_as(row, bytes, p.value.shape(), true);
    EXPECT_TRUE(same_bits(back.value, p.value)) << gap;
    EXPECT_TRUE(same_bits(back.mask, p.mask)) << gap;
  }
}

TEST(TensorEncoding, UnmaskedSparseKeepsNegativeZeroAndNaNBits) {
  Parameter p;
  p.value = Tensor({64});
  p.value[5] = -0.0f;
  p.value[17] = std::bit_cast<float>(0x7fc12345u);  // a NaN with a payload
  p.value[40] = std::numeric_limits<float>::denorm_min();
  p.value[63] = -std::numeric_limits<float>::infinity();
  for (const char* name : {"sparse-bitmap", "sparse-delta8"}) {
    std::string bytes;
    encoding(name).encode(p, bytes);
    const Parameter back = decode_as(encoding(name), bytes, {64}, false);
    EXPECT_TRUE(same_bits(back.value, p.value)) << name;
    EXPECT_FALSE(back.has_mask());
  }
}

TEST(TensorEncoding, ChooserPicksTheSmallestExactEncoding) {
  // Dense random values: nothing beats plain F32.
  EXPECT_STREQ(choose_tensor_encoding(sparse_parameter(4096, 1.0, false, 1)).name, "dense");
  // Mostly zero, unmasked: a sparse form, the smaller of the two.
  const Parameter sparse = sparse_parameter(4096, 0.05, false, 2);
  const TensorEncoding& chosen = choose_tensor_encoding(sparse);
  EXPECT_TRUE(chosen.stores_mask);
  for (const TensorEncoding& row : tensor_encodings())
    if (row.encoded_size(sparse) != kNotApplicable)
      EXPECT_LE(chosen.encoded_size(sparse), row.encoded_size(sparse)) << row.name;
  // Delta8 wins when kept elements are rare and close; the bitmap wins when they are dense.
  EXPECT_STREQ(choose_tensor_encoding(sparse_parameter(4096, 0.05, true, 3)).name, "sparse-delta8");
  EXPECT_STREQ(choose_tensor_encoding(sparse_parameter(4096, 0.6, true, 4)).name, "sparse-bitmap");
  // A masked tensor never goes dense, even with every weight kept: dense would lose the mask.
  EXPECT_TRUE(choose_tensor_encoding(sparse_parameter(4096, 1.0, true, 5)).stores_mask);
}

TEST(TensorEncoding, MismatchedMaskIsAnInternalError) {
  Parameter p = sparse_parameter(16, 0.5, true, 6);
  p.mask = Tensor({15});
  try {
    choose_tensor_encoding(p);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::Internal);
  }
}

TEST(TensorEncoding, CorruptBytesAreBadInputWithAClearReason) {
  const TensorEncoding& bitmap = encoding("sparse-bitmap");
  const TensorEncoding& delta8 = encoding("sparse-delta8");
  const TensorEncoding& dense = encoding("dense");
  EXPECT_EQ(bad_input_message([&] { decode_as(dense, std::string(12, '\0'), {4}, false); }),
            "dense data has 12 bytes, the shape needs 16");
  EXPECT_EQ(bad_input_message([&] { decode_as(bitmap, std::string(1, '\0'), {10}, true); }),
            "sparse-bitmap data has 1 bytes, its bitmap alone needs 2");
  EXPECT_EQ(bad_input_message([&] { decode_as(bitmap, std::string("\x00\x04", 2), {10}, true); }),
            "sparse-bitmap has bits set past the tensor's 10 elements");
  EXPECT_EQ(bad_input_message([&] { decode_as(bitmap, std::string("\x03\x00", 2) + std::string(4, '\0'), {10}, true); }),
            "sparse-bitmap data has 6 bytes, its 2 kept values need 10");
  EXPECT_EQ(bad_input_message([&] { decode_as(delta8, std::string("\x09\x00\x00\x00", 4), {8}, true); }),
            "sparse-delta8 says 9 elements are kept but the tensor has only 8");
  EXPECT_EQ(bad_input_message([&] { decode_as(delta8, std::string("\x02\x00\x00\x00\x01", 5), {8}, true); }),
            "sparse-delta8 index stream ends after 1 of 2 kept elements");
  EXPECT_EQ(bad_input_message([&] { decode_as(delta8, std::string("\x01\x00\x00\x00\x09", 5), {8}, true); }),
            "sparse-delta8 index 8 is past the tensor's 8 elements");
  EXPECT_EQ(bad_input_message([&] { decode_as(delta8, std::string("\x01\x00\x00\x00\x00", 5), {300}, true); }),
            "sparse-delta8 index stream ends after 0 of 1 kept elements");
  EXPECT_EQ(bad_input_message([&] { decode_as(delta8, std::string("\x01\x00\x00\x00\x01\x00\x00", 7), {8}, true); }),
            "sparse-delta8 data has 7 bytes, its 1 kept values need 9");
  EXPECT_EQ(bad_input_message([&] { decode_as(dense, std::string(16, '\0'), {4}, true); }),
            "the dense encoding cannot record a mask");
}

}  // namespace
}  // namespace shrink
