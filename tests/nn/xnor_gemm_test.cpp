// The XNOR-popcount kernel of binary layers against the float GEMM, on every path this CPU
// runs, and Linear choosing it at inference for binary weights and +-1 inputs.
#include "../../src/nn/kernels/gemm.hpp"
#include "../../src/nn/kernels/xnor_gemm.hpp"
#include "shrink/core/random.hpp"
#include "shrink/nn/model.hpp"
#include "shrink/nn/quantizer.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace shrink::kernels {
namespace {

// +-alpha_o rows and +-1 inputs with shapes that leave partial words and blocks.
struct Case {
  int64_t n, in, out;
  std::vector<float> x, w, bias;

  Case(int64_t n_, int64_t in_, int64_t out_, uint64_t seed) : n(n_), in(in_), out(out_) {
    Rng rng(seed);
    for (int64_t i = 0; i < n * in; ++i) x.push_back(rng.uniform() < 0.5f ? -1.0f : 1.0f);
    for (int64_t o = 0; o < out; ++o) {
      const float alpha = o == 3 ? 0.0f : rng.uniform(0.01f, 0.2f);  // one all-zero row
      for (int64_t i = 0; i < in; ++i) w.push_back(rng.uniform() < 0.5f ? -alpha : alpha);
    }
    for (int64_t o = 0; o < out; ++o) bias.push_back(rng.uniform(-1.0f, 1.0f));
  }

  // y = x W^T + b by the float reference GEMM.
  std::vector<float> reference() const {
    std::vector<float> y(static_cast<size_t>(n * out));
    gemm_reference(false, true, n, out, in, x.data(), in, w.data(), in, false, y.data(), out);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t o = 0; o < out; ++o) y[static_cast<size_t>(r * out + o)] += bias[static_cast<size_t>(o)];
    return y;
  }
};

TEST(XnorGemm, EveryPathMatchesTheFloatGemm) {
  for (XnorPath path : {XnorPath::Portable, XnorPath::Avx2, XnorPath::Avx512}) {
    if (!xnor_path_supported(path)) {
      std::printf("skipping the %s path: this CPU lacks it\n", xnor_path_name(path));
      continue;
    }
    SCOPED_TRACE(xnor_path_name(path));
    // Partial words, nibbles and blocks (of 8 outputs, and of 32 on the AVX2 path), every row
    // tile size (13 = 3 x 4 + 1), rows longer than the AVX2 path's 63-nibble counters, batch 1.
    for (const auto& [n, in, out] : {std::tuple{1, 1, 1}, {3, 64, 8}, {5, 100, 13}, {7, 2100, 17}, {2, 63, 9}, {9, 1000, 43}, {1, 1024, 1024}, {13, 301, 100}, {6, 258, 97}}) {
      const Case c(n, in, out, static_cast<uint64_t>(n * 1000 + in));
      PackedBinaryRows w;
      ASSERT_TRUE(pack_binary_rows(path, c.w.data(), out, in, w));
      EXPECT_EQ(w.path, path);
      std::vector<uint64_t> x_bits;
      ASSERT_TRUE(pack_plus_minus_one(path, c.x.data(), n, in, x_bits));
      std::vector<float> y(static_cast<size_t>(n * out), 123.0f);
      xnor_gemm(x_bits.data(), n, w, c.bias.data(), 0, w.blocks(), y.data(), out);
      const std::vector<float> expected = c.reference();
      for (size_t i = 0; i < y.size(); ++i)
        EXPECT_NEAR(y[i], expected[i], 1e-5f * (1.0f + std::abs(expected[i]))) << n << "x" << in << "x" << out << " @" << i;
      // A range of blocks writes only its own outputs.
      std::vector<float> part(static_cast<size_t>(n * out), 7.0f);
      xnor_gemm(x_bits.data(), n, w, nullptr, 1, w.blocks(), part.data(), out);
      for (int64_t r = 0; r < n; ++r)
        for (int64_t o = 0; o < out; ++o) {
          const auto i = static_cast<size_t>(r * out + o);
          if (o < w.lanes)
            EXPECT_EQ(part[i], 7.0f);
          else  // without the bias
            EXPECT_NEAR(part[i], expected[i] - c.bias[static_cast<size_t>(o)], 1e-5f * (1.0f + std::abs(expected[i])));
        }
    }
  }
}

// Every input bit against every weight bit differing (and then none): the counts reach the row
// length, 2100 here, past what the AVX2 path's byte counters hold (it widens them every 63
// nibbles), and give exactly -alpha * cols + b (and +alpha * cols + b).
TEST(XnorGemm, CountsReachTheRowLength) {
  const int64_t n = 5, in = 2100, out = 40;
  std::vector<float> w(static_cast<size_t>(out * in), 0.125f), bias(static_cast<size_t>(out), 0.5f);
  for (XnorPath path : {XnorPath::Portable, XnorPath::Avx2, XnorPath::Avx512}) {
    if (!xnor_path_supported(path)) continue;
    SCOPED_TRACE(xnor_path_name(path));
    PackedBinaryRows packed;
    ASSERT_TRUE(pack_binary_rows(path, w.data(), out, in, packed));
    for (const float sign : {-1.0f, 1.0f}) {
      const std::vector<float> x(static_cast<size_t>(n * in), sign);
      std::vector<uint64_t> x_bits;
      ASSERT_TRUE(pack_plus_minus_one(path, x.data(), n, in, x_bits));
      std::vector<float> y(static_cast<size_t>(n * out));
      xnor_gemm(x_bits.data(), n, packed, bias.data(), 0, packed.blocks(), y.data(), out);
      for (const float v : y) EXPECT_EQ(v, sign * 0.125f * in + 0.5f);
    }
  }
}

TEST(XnorGemm, PackingRejectsWhatIsNotBinary) {
  PackedBinaryRows w;
  const std::vector<float> mixed = {0.5f, -0.5f, 0.25f, 0.5f};
  for (XnorPath path : {XnorPath::Portable, XnorPath::Avx2, XnorPath::Avx512}) {
    EXPECT_FALSE(pack_binary_rows(path, mixed.data(), 1, 4, w));
    EXPECT_FALSE(pack_binary_rows(path, mixed.data(), 2, 2, w));
  }
  const std::vector<float> rows = {0.5f, -0.5f, -0.25f, 0.25f};
  EXPECT_TRUE(pack_binary_rows(XnorPath::Portable, rows.data(), 2, 2, w));
  std::vector<uint64_t> bits;
  const std::vector<float> x = {1.0f, -1.0f, 1.0f, 0.999f};
  EXPECT_FALSE(pack_plus_minus_one(XnorPath::Portable, x.data(), 1, 4, bits));
  EXPECT_TRUE(pack_plus_minus_one(XnorPath::Portable, x.data(), 1, 3, bits));
  EXPECT_EQ(bits[0], 0b010u);
}

// The vector packers give the portable packer's words, and reject a value that is not +-1
// wherever it sits: in a whole word (their loop) or in the partial last word (the portable one).
TEST(XnorGemm, EveryPathPacksInputsAlike) {
  const int64_t rows = 3, cols = 200;  // three whole words and 8 values of a fourth
  std::vector<float> x(static_cast<size_t>(rows * cols));
  Rng rng(11);
  for (float& v : x) v = rng.uniform() < 0.5f ? -1.0f : 1.0f;
  std::vector<uint64_t> expected;
  ASSERT_TRUE(pack_plus_minus_one(XnorPath::Portable, x.data(), rows, cols, expected));
  for (XnorPath path : {XnorPath::Avx2, XnorPath::Avx512}) {
    if (!xnor_path_supported(path)) continue;
    SCOPED_TRACE(xnor_path_name(path));
    std::vector<uint64_t> bits;
    ASSERT_TRUE(pack_plus_minus_one(path, x.data(), rows, cols, bits));
    EXPECT_EQ(bits, expected);
    for (const int64_t at : {int64_t{0}, int64_t{cols + 70}, int64_t{2 * cols + 195}})
      for (const float bad : {0.0f, -0.0f, 2.0f, -0.5f, std::nanf("")}) {
        std::vector<float> wrong = x;
        wrong[static_cast<size_t>(at)] = bad;
        EXPECT_FALSE(pack_plus_minus_one(path, wrong.data(), rows, cols, bits)) << at << " " << bad;
      }
  }
}

// A Linear layer with XNOR-Net weights behind a Sign: inference takes the XNOR kernel, and its
// output matches the float path that training (and a plain copy of the weights) uses.
TEST(XnorGemm, LinearUsesItForBinaryWeightsAndSignInputs) {
  Model model = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {300}}}},
       {"nodes",
        {{{"name", "sign"}, {"type", "Sign"}},
         {{"name", "fc"}, {"type", "Linear"}, {"attributes", {{"out_features", 70}}}}}}});
  model.initialize(3);
  Parameter& w = model.parameter("fc.weight");
  w.set_quantizer(make_quantizer("binary", {}, w.value));
  Model plain = Model::from_graph_json(model.graph_json());
  plain.parameter("fc.weight").value = w.effective();
  plain.parameter("fc.bias").value = model.parameter("fc.bias").value;
  Tensor x({9, 300});
  Rng rng(5);
  for (float& v : x) v = rng.normal();
  const Tensor fast = model.forward(x);            // XNOR kernel
  const Tensor slow = plain.forward(x);            // float GEMM on the same values
  const Tensor training = model.forward(x, true);  // training keeps the float path
  ASSERT_EQ(fast.shape(), slow.shape());
  // The kernel's result exactly: alpha_o * (integer dot product of the signs) + b_o, one
  // rounding. The float GEMM rounds each of its 300 additions and lands elsewhere.
  const Tensor& we = w.effective();
  const Tensor& b = model.parameter("fc.bias").value;
  int64_t differs_from_float = 0;
  for (int64_t r = 0; r < 9; ++r)
    for (int64_t o = 0; o < 70; ++o) {
      int64_t dot = 0;
      for (int64_t i = 0; i < 300; ++i)
        dot += (x[r * 300 + i] < 0.0f) == std::signbit(we[o * 300 + i]) ? 1 : -1;
      const float expected = std::fma(std::abs(we[o * 300]), static_cast<float>(dot), b[o]);
      const int64_t i = r * 70 + o;
      EXPECT_EQ(fast[i], expected) << i;
      EXPECT_NEAR(slow[i], expected, 1e-4f) << i;
      EXPECT_NEAR(training[i], expected, 1e-4f) << i;
      differs_from_float += slow[i] != expected;
    }
  EXPECT_GT(differs_from_float, 0) << "the float path would not tell the kernels apart";
}

}  // namespace
}  // namespace shrink::kernels
