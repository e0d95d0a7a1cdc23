// Quantized tensors in the .shrk file: stored as codes at their bit width plus the quantizer's
// state, combined with the sparse positions of a pruned weight, loaded back exactly.
#include "shrink/core/random.hpp"
#include "shrink/io/container.hpp"
#include "shrink/io/tensor_encoding.hpp"
#include "shrink/nn/model.hpp"
#include "shrink/nn/quantizer.hpp"
#include "support/errors.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cstring>

namespace shrink {
namespace {

using testing::bad_input_message;

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.data(), b.data(), static_cast<size_t>(a.numel()) * sizeof(float)) == 0;
}

Parameter random_weight(const Shape& shape, uint64_t seed) {
  Parameter p;
  p.name = "layer.weight";
  p.value = Tensor(shape);
  Rng rng(seed);
  for (float& v : p.value) v = rng.normal(0.0f, 0.1f);
  return p;
}

void quantize(Parameter& p, const nlohmann::json& options) {
  p.set_quantizer(make_quantizer("affine", options, p.value));
}

// Encodes with `row` (by default the chosen one) and decodes into a fresh parameter.
Parameter round_trip(const Parameter& p, std::string* bytes_out = nullptr,
                     const TensorEncoding* chosen = nullptr) {
  const TensorEncoding& row = chosen ? *chosen : choose_tensor_encoding(p);
  std::string bytes;
  row.encode(p, bytes);
  EXPECT_EQ(static_cast<int64_t>(bytes.size()), row.encoded_size(p)) << row.name;
  Parameter back;
  back.name = p.name;
  back.value = Tensor(p.value.shape(), 42.0f);
  EXPECT_EQ(row.decode(bytes, back, p.has_mask()), static_cast<int64_t>(bytes.size()));
  if (bytes_out) *bytes_out = bytes;
  return back;
}

TEST(QuantizedEncoding, StoresCodesAtTheirBitWidthAndLoadsTheExactValues) {
  for (int bits : {2, 3, 4, 5, 8}) {
    for (bool per_channel : {false, true}) {
      Parameter p = random_weight({32, 50}, static_cast<uint64_t>(bits));
      quantize(p, {{"bits", bits}, {"per_channel", per_channel}, {"symmetric", bits % 2 == 0}});
      // The packed row; the writer may pick its Huffman-coded sibling when that is smaller.
      const TensorEncoding& row = *find_tensor_encoding("quantized");
      EXPECT_TRUE(row.stores_quantizer);
      const TensorEncoding& chosen = choose_tensor_encoding(p);
      EXPECT_TRUE(chosen.name == std::string("quantized") || chosen.name == std::string("quantized-huffman") ||
                  chosen.name == std::string("quantized-pair-huffman"));
      EXPECT_LE(chosen.encoded_size(p), row.encoded_size(p));
      std::string bytes;
      const Parameter back = round_trip(p, &bytes, &row);
      // Header: name length, "affine", state length, bits, flags, channel count, scales and
      // zero codes; then 1600 codes.
      const int64_t channels = per_channel ? 32 : 1;
      const int64_t state = 1 + 1 + 4 + 5 * channels;
      EXPECT_EQ(static_cast<int64_t>(bytes.size()), 1 + 6 + 4 + state + (1600 * bits + 7) / 8);
      ASSERT_TRUE(back.quantized());
      EXPECT_EQ(back.quantizer()->options(), p.quantizer()->options());
      EXPECT_TRUE(same_bits(back.effective(), p.effective())) << bits;
      EXPECT_TRUE(same_bits(back.value, p.effective())) << "the latent weight is not stored";
      EXPECT_FALSE(back.has_mask());
    }
  }
}

TEST(QuantizedEncoding, APrunedThenQuantizedWeightStoresOnlyTheKeptCodes) {
  for (double density : {0.5, 0.05}) {
    Parameter p = random_weight({40, 40}, 9);
    p.mask = Tensor(p.value.shape(), 1.0f);
    Rng rng(3);
    for (float& m : p.mask) m = rng.uniform() < density ? 1.0f : 0.0f;
    p.apply_mask();
    quantize(p, {{"bits", 4}, {"per_channel", true}, {"symmetric", true}});
    const TensorEncoding& row = choose_tensor_encoding(p);
    EXPECT_TRUE(std::string_view(row.name).starts_with(density > 0.2 ? "quantized-bitmap" : "quantized-delta8"))
        << row.name;
    int64_t kept = 0;
    for (float m : p.mask) kept += m != 0.0f;
    std::string bytes;
    const Parameter back = round_trip(p, &bytes);
    EXPECT_LT(static_cast<int64_t>(bytes.size()), 600 + kept / 2 + 250) << "codes of kept only";
    EXPECT_EQ(back.mask, p.mask);
    EXPECT_TRUE(same_bits(back.effective(), p.effective()));
    for (int64_t i = 0; i < p.value.numel(); ++i)
      if (p.mask[i] == 0.0f) EXPECT_EQ(std::bit_cast<uint32_t>(back.effective()[i]), 0u);
  }
}

TEST(QuantizedEncoding, PlainRowsNeverStoreAQuantizedParameterNorQuantizedRowsAPlainOne) {
  Parameter p = random_weight({4, 4}, 1);
  for (const TensorEncoding& row : tensor_encodings())
    if (row.stores_quantizer) EXPECT_EQ(row.encoded_size(p), kNotApplicable) << row.name;
  quantize(p, {{"bits", 8}});
  EXPECT_TRUE(choose_tensor_encoding(p).stores_quantizer);
}

TEST(QuantizedEncoding, AValueThatIsNotALevelCannotBeStored) {
  Parameter p = random_weight({4, 4}, 1);
  quantize(p, {{"bits", 4}});
  const Tensor quantized = p.effective();
  // Pretend the cache holds an unquantized value: the writer's check catches it.
  p.value = quantized;
  p.value[5] += 1e-3f;
  p.adopt_value_as_effective();
  std::string bytes;
  EXPECT_NE(bad_input_message([&] { choose_tensor_encoding(p).encode(p, bytes); })
                .find("cannot store parameter layer.weight: its element 5 is"),
            std::string::npos);
}

TEST(QuantizedEncoding, CorruptBytesAreClearErrors) {
  Parameter p = random_weight({3, 5}, 2);
  quantize(p, {{"bits", 4}});
  const TensorEncoding& row = *find_tensor_encoding("quantized");
  std::string bytes;
  row.encode(p, bytes);
  auto decode = [&](const std::string& data, bool mask = false) {
    Parameter back;
    back.value = Tensor({3, 5});
    row.decode(data, back, mask);
  };
  EXPECT_EQ(bad_input_message([&] { decode(bytes.substr(0, 4)); }),
            "quantized data ends before its format name (needs 6 bytes, 3 left)");
  std::string unknown = bytes;
  unknown[1] = 'X';
  EXPECT_EQ(bad_input_message([&] { decode(unknown); }),
            "quantized data uses unknown weight format 'Xffine' (known: " +
                quantizer_format_names() + "); it may need a newer shrink");
  EXPECT_EQ(bad_input_message([&] { decode(bytes.substr(0, bytes.size() - 1)); }),
            "quantized data ends before its codes (needs 8 bytes, 7 left)");
  std::string ghost = bytes;
  ghost.back() = static_cast<char>(0xF0);  // 15 codes of 4 bits: the last byte's high half
  EXPECT_EQ(bad_input_message([&] { decode(ghost); }),
            "quantized data has bits set past its last code");
  EXPECT_EQ(bad_input_message([&] { decode(bytes, /*mask=*/true); }),
            "the quantized encoding cannot record a mask");
  std::string bad_state = bytes;
  bad_state[11] = 1;  // bit width 1
  EXPECT_EQ(bad_input_message([&] { decode(bad_state); }),
            "affine state has a bit width of 1; it must be 2..8");
}

TEST(QuantizedEncoding, AModelFileRoundTripsExactlyAndShrinks) {
  Model model = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {64}}}},
       {"nodes",
        {{{"name", "fc1"}, {"type", "Linear"}, {"attributes", {{"out_features", 128}}}},
         {{"name", "relu"}, {"type", "ReLU"}},
         {{"name", "fc2"}, {"type", "Linear"}, {"attributes", {{"out_features", 10}}}}}}});
  model.initialize(4);
  const int64_t dense_bytes = static_cast<int64_t>(serialize_model(model).size());
  Parameter& fc1 = model.parameter("fc1.weight");
  fc1.set_quantizer(make_quantizer("affine", {{"bits", 4}, {"per_channel", true}}, fc1.value));
  Parameter& fc2 = model.parameter("fc2.weight");
  fc2.set_quantizer(make_quantizer("affine", {{"bits", 8}}, fc2.value));
  const std::string bytes = serialize_model(model);
  // fc1: 8192 weights at 4 bits instead of 32.
  EXPECT_LT(static_cast<int64_t>(bytes.size()), dense_bytes - 8192 * 4 + 8192 / 2 + 2000);
  Model back = deserialize_model(bytes, "q.shrk");
  for (const char* name : {"fc1.weight", "fc2.weight"}) {
    ASSERT_TRUE(back.parameter(name).quantized()) << name;
    EXPECT_TRUE(same_bits(back.parameter(name).effective(), model.parameter(name).effective()));
  }
  EXPECT_FALSE(back.parameter("fc1.bias").quantized());
  Tensor x({2, 64});
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = 0.01f * static_cast<float>(i % 17);
  EXPECT_TRUE(same_bits(back.forward(x), model.forward(x)));
  EXPECT_EQ(serialize_model(back), bytes) << "saving the loaded model gives the same bytes";
}

}  // namespace
}  // namespace shrink
