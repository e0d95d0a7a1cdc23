// The Huffman-coded rows of the .shrk encodings table: codebook indices (and the delta8 gaps
// of a pruned weight) as canonical Huffman blocks, or the indices as pair blocks, chosen by the
// writer when smaller, loaded back exactly; corrupted streams are clear errors; the entropy
// statistics reports quote.
#include "../../src/compress/coding/huffman.hpp"
#include "shrink/core/random.hpp"
#include "shrink/io/code_statistics.hpp"
#include "shrink/io/container.hpp"
#include "shrink/io/tensor_encoding.hpp"
#include "shrink/nn/model.hpp"
#include "shrink/nn/quantizer.hpp"
#include "support/errors.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace shrink {
namespace {

using testing::bad_input_message;

// A k-means-shared weight with a fraction `density` kept (no mask when density is 1).
Parameter shared_weight(const Shape& shape, double density, int bits, uint64_t seed) {
  Parameter p;
  p.name = "fc.weight";
  p.value = Tensor(shape);
  Rng rng(seed);
  for (float& v : p.value) v = rng.normal(0.0f, 0.1f);
  if (density < 1.0) {
    p.mask = Tensor(shape, 1.0f);
    for (float& m : p.mask) m = rng.uniform() < density ? 1.0f : 0.0f;
    p.apply_mask();
  }
  p.set_quantizer(make_quantizer("kmeans", {{"bits", bits}}, p.value));
  return p;
}

uint32_t get_u32_at(const std::string& bytes, size_t at) {
  uint32_t value = 0;
  for (size_t i = 0; i < 4; ++i) value |= uint32_t{static_cast<unsigned char>(bytes[at + i])} << (8 * i);
  return value;
}

Parameter decode_with(const TensorEncoding& row, const std::string& bytes, const Parameter& like) {
  Parameter back;
  back.name = like.name;
  back.value = Tensor(like.value.shape(), 42.0f);
  EXPECT_EQ(row.decode(bytes, back, like.has_mask()), static_cast<int64_t>(bytes.size())) << row.name;
  return back;
}

TEST(HuffmanEncoding, EveryHuffmanRowRoundTripsExactlyAndKeepsItsSizePromise) {
  for (double density : {1.0, 0.5, 0.08, 0.0}) {
    for (int bits : {1, 5, 8}) {
      SCOPED_TRACE("density " + std::to_string(density) + ", bits " + std::to_string(bits));
      const Parameter p = shared_weight({60, 70}, density, bits, 3);
      for (const char* name : {"quantized-huffman", "quantized-bitmap-huffman", "quantized-delta8-huffman",
                               "quantized-pair-huffman", "quantized-bitmap-pair-huffman",
                               "quantized-delta8-pair-huffman"}) {
        const TensorEncoding& row = *find_tensor_encoding(name);
        if (p.has_mask() != row.stores_mask) continue;
        // Pair blocks code at most 5-bit codes, two or more distinct ones.
        const bool pairs = std::string_view(name).ends_with("-pair-huffman");
        if (pairs && (bits > 5 || density == 0.0)) {
          EXPECT_EQ(row.encoded_size(p), kNotApplicable) << name;
          continue;
        }
        std::string bytes;
        row.encode(p, bytes);
        EXPECT_EQ(static_cast<int64_t>(bytes.size()), row.encoded_size(p)) << name;
        const Parameter back = decode_with(row, bytes, p);
        ASSERT_TRUE(back.quantized()) << name;
        EXPECT_EQ(back.effective(), p.effective()) << name;
        if (p.has_mask()) EXPECT_EQ(back.mask, p.mask) << name;
      }
    }
  }
}

TEST(HuffmanEncoding, TheWriterPicksHuffmanWhenSmallerAndPackedCodesOtherwise) {
  // A pruned 5-bit layer of Gaussian weights: its codes and gaps are skewed.
  const Parameter large = shared_weight({300, 100}, 0.08, 5, 1);
  const TensorEncoding& chosen = choose_tensor_encoding(large);
  EXPECT_TRUE(std::string_view(chosen.name) == "quantized-delta8-huffman" ||
              std::string_view(chosen.name) == "quantized-delta8-pair-huffman")
      << chosen.name;
  EXPECT_LT(chosen.encoded_size(large), find_tensor_encoding("quantized-delta8")->encoded_size(large));
  // Eight codes: the code tables cost more than they save.
  const Parameter tiny = shared_weight({2, 4}, 1.0, 2, 1);
  EXPECT_STREQ(choose_tensor_encoding(tiny).name, "quantized");
  // 16-bit codes are beyond a Huffman block's 256 symbols.
  Parameter half;
  half.value = Tensor({4, 4}, 0.5f);
  half.set_quantizer(make_quantizer("fp16", {}, half.value));
  EXPECT_EQ(find_tensor_encoding("quantized-huffman")->encoded_size(half), kNotApplicable);
}

TEST(HuffmanEncoding, BytesAreTheQuantizerHeaderThenTheBlocks) {
  const Parameter p = shared_weight({10, 10}, 1.0, 2, 5);
  std::string bytes;
  find_tensor_encoding("quantized-huffman")->encode(p, bytes);
  // Header: name length, "kmeans", state length 17, bits 2 and four centroids.
  ASSERT_GE(bytes.size(), 28u);
  EXPECT_EQ(bytes.substr(0, 11), std::string("\x06kmeans\x11\x00\x00\x00", 11));
  std::vector<uint32_t> codes(100);
  p.quantizer()->encode(p.effective(), codes);
  std::string block;
  coding::write_block(codes, 4, block);
  EXPECT_EQ(bytes.substr(28), block);
}

TEST(HuffmanEncoding, CorruptStreamsAreClearErrors) {
  const Parameter p = shared_weight({60, 70}, 0.08, 5, 3);
  const TensorEncoding& row = *find_tensor_encoding("quantized-delta8-huffman");
  std::string bytes;
  row.encode(p, bytes);
  const size_t header = 1 + 6 + 4 + 1 + 32 * 4;
  auto decode = [&](const std::string& data) {
    Parameter back;
    back.value = Tensor({60, 70});
    row.decode(data, back, true);
  };
  std::string bad_lengths = bytes;
  bad_lengths[header + 4] = static_cast<char>(0xFF);  // the first two gap symbols: 15 bits each
  EXPECT_NE(bad_input_message([&] { decode(bad_lengths); })
                .find("quantized-delta8-huffman gaps has code lengths that do not form a complete prefix code"),
            std::string::npos);
  EXPECT_NE(bad_input_message([&] { decode(bytes.substr(0, bytes.size() - 3)); }).find("quantized-delta8-huffman codes"),
            std::string::npos);
  std::string too_many = bytes;
  too_many[header] = static_cast<char>(0xFF);  // kept count far beyond the gaps there are
  too_many[header + 1] = static_cast<char>(0x0F);
  EXPECT_FALSE(bad_input_message([&] { decode(too_many); }).empty());
  // Through the model file: the error names the tensor.
  Model model = Model::from_graph_json({{"input", {{"name", "x"}, {"shape", {100}}}},
                                        {"nodes", {{{"name", "fc"}, {"type", "Linear"}, {"attributes", {{"out_features", 300}}}}}}});
  model.initialize(1);
  const Parameter sparse = shared_weight({300, 100}, 0.08, 5, 3);
  // Huffman-coded gaps, the codes one by one or in pairs: the gap block is the same.
  const TensorEncoding& chosen = choose_tensor_encoding(sparse);
  ASSERT_TRUE(std::string_view(chosen.name).starts_with("quantized-delta8-")) << chosen.name;
  model.parameter("fc.weight") = sparse;
  std::string stored;
  chosen.encode(sparse, stored);
  const std::string file = serialize_model(model);
  const size_t at = file.find(stored);
  ASSERT_NE(at, std::string::npos);
  std::string corrupt = file;
  corrupt[at + header + 4] = static_cast<char>(0xFF);
  const std::string message = bad_input_message([&] { deserialize_model(corrupt, "bad.shrk"); });
  EXPECT_NE(message.find("fc.weight"), std::string::npos) << message;
  EXPECT_NE(message.find("complete prefix code"), std::string::npos) << message;
  EXPECT_EQ(deserialize_model(file, "good.shrk").parameter("fc.weight").effective(), sparse.effective());
}

TEST(HuffmanEncoding, FourBitCodesAreCodedInPairsWhenThatIsSmallerAndACorruptPairTableIsAClearError) {
  // A pruned 4-bit layer: the codes of a pair block come closer to their entropy than a
  // single-symbol Huffman block's, by more than the pair block's larger table.
  const Parameter p = shared_weight({300, 100}, 0.08, 4, 1);
  const TensorEncoding& pairs = *find_tensor_encoding("quantized-delta8-pair-huffman");
  ASSERT_STREQ(choose_tensor_encoding(p).name, pairs.name);
  EXPECT_LT(pairs.encoded_size(p), find_tensor_encoding("quantized-delta8-huffman")->encoded_size(p));
  // Through the model file: loads back exactly; zeroed half-bit lengths name the tensor.
  Model model = Model::from_graph_json({{"input", {{"name", "x"}, {"shape", {100}}}},
                                        {"nodes", {{{"name", "fc"}, {"type", "Linear"}, {"attributes", {{"out_features", 300}}}}}}});
  model.initialize(1);
  model.parameter("fc.weight") = p;
  const std::string file = serialize_model(model);
  EXPECT_EQ(deserialize_model(file, "good.shrk").parameter("fc.weight").effective(), p.effective());
  std::string stored;
  pairs.encode(p, stored);
  const size_t at = file.find(stored);
  ASSERT_NE(at, std::string::npos);
  // The pair block follows the header, the kept count and the gap block.
  const size_t header = 1 + 6 + 4 + 1 + 16 * 4;
  const size_t gap_block = 128 + 4 + get_u32_at(stored, header + 4 + 128);
  std::string corrupt = file;
  for (size_t i = 0; i < 10; ++i) corrupt[at + header + 4 + gap_block + i] = '\0';
  const std::string message = bad_input_message([&] { deserialize_model(corrupt, "bad.shrk"); });
  EXPECT_NE(message.find("fc.weight"), std::string::npos) << message;
  EXPECT_NE(message.find("quantized-delta8-pair-huffman codes gives a length to 0 symbols"), std::string::npos)
      << message;
}

TEST(HuffmanEncoding, CodeStatisticsGiveTheEntropyOfCodesAndGaps) {
  const Parameter p = shared_weight({60, 70}, 0.08, 5, 3);
  const auto statistics = code_statistics(p);
  ASSERT_TRUE(statistics.has_value());
  int64_t kept = 0;
  for (float m : p.mask) kept += m != 0.0f;
  EXPECT_EQ(statistics->codes, kept);
  EXPECT_GE(statistics->gaps, kept);
  EXPECT_GT(statistics->code_entropy_bits, 0.0);
  EXPECT_LE(statistics->code_entropy_bits, 5.0 * static_cast<double>(kept));
  // The Huffman row spends at most the entropy plus under one bit per symbol, its tables and
  // the quantizer header.
  const int64_t bytes = find_tensor_encoding("quantized-delta8-huffman")->encoded_size(p);
  EXPECT_GE(static_cast<double>(bytes), statistics->entropy_bytes());
  EXPECT_LE(static_cast<double>(bytes),
            statistics->entropy_bytes() + static_cast<double>(kept + statistics->gaps) / 8.0 + 4 + 16 + 4 + 128 + 4 + 141);
  Parameter plain;
  plain.value = Tensor({3});
  EXPECT_FALSE(code_statistics(plain).has_value());
}

}  // namespace
}  // namespace shrink
