// The fast kernels of src/nn/kernels against their slow, obvious references.
// The kernels are private to the library (src/), so the test reaches them by path.
#include "../../src/nn/kernels/direct_conv.hpp"
#include "../../src/nn/kernels/gemm.hpp"
#include "../../src/nn/kernels/im2col.hpp"
#include "shrink/core/random.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace shrink::kernels {
namespace {

std::vector<float> random_values(int64_t count, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(count));
  for (float& x : v) x = rng.uniform(-1.0f, 1.0f);
  return v;
}

void expect_close(const std::vector<float>& actual, const std::vector<float>& expected,
                  float tolerance, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < actual.size(); ++i)
    ASSERT_NEAR(actual[i], expected[i], tolerance) << what << " at " << i;
}

struct GemmCase {
  int64_t m, n, k;
  bool ta, tb, accumulate;
};

TEST(GemmTest, MatchesReferenceForEveryTransposeWithPaddedLeadingDimensions) {
  const GemmCase cases[] = {
      {1, 1, 1, false, false, false},   {7, 5, 3, false, false, true},
      {33, 17, 65, false, true, false}, {20, 576, 25, false, false, true},
      {50, 64, 500, true, false, false}, {19, 31, 23, true, true, true},
      {64, 300, 784, false, true, true}, {300, 784, 64, true, false, true},
      {5, 9, 0, false, false, false},
  };
  uint64_t seed = 1;
  for (const GemmCase& c : cases) {
    const std::string what = "m=" + std::to_string(c.m) + " n=" + std::to_string(c.n) +
                             " k=" + std::to_string(c.k) + " ta=" + std::to_string(c.ta) +
                             " tb=" + std::to_string(c.tb) + " acc=" + std::to_string(c.accumulate);
    // Leading dimensions larger than the logical width catch stride mistakes.
    const int64_t a_rows = c.ta ? c.k : c.m, a_cols = c.ta ? c.m : c.k;
    const int64_t b_rows = c.tb ? c.n : c.k, b_cols = c.tb ? c.k : c.n;
    const int64_t lda = a_cols + 3, ldb = b_cols + 2, ldc = c.n + 5;
    const auto a = random_values(a_rows * lda, seed++);
    const auto b = random_values(b_rows * ldb, seed++);
    auto fast = random_values(c.m * ldc, seed++);
    auto slow = fast;
    gemm(c.ta, c.tb, c.m, c.n, c.k, a.data(), lda, b.data(), ldb, c.accumulate, fast.data(),
         ldc);
    gemm_reference(c.ta, c.tb, c.m, c.n, c.k, a.data(), lda, b.data(), ldb, c.accumulate,
                   slow.data(), ldc);
    // Sums of k products of values in [-1, 1]: the float error grows like sqrt(k) * 1e-7.
    expect_close(fast, slow, 1e-4f * std::sqrt(static_cast<float>(c.k) + 1.0f), what);
  }
}

TEST(GemmTest, ReferenceComputesAHandWorkedProduct) {
  // [1 2; 3 4] * [5 6; 7 8] = [19 22; 43 50]
  const std::vector<float> a{1, 2, 3, 4}, b{5, 6, 7, 8};
  std::vector<float> c(4, 100.0f);
  gemm_reference(false, false, 2, 2, 2, a.data(), 2, b.data(), 2, false, c.data(), 2);
  EXPECT_EQ(c, (std::vector<float>{19, 22, 43, 50}));
  gemm_reference(true, false, 2, 2, 2, a.data(), 2, b.data(), 2, true, c.data(), 2);
  // A^T B = [1 3; 2 4] [5 6; 7 8] = [26 30; 38 44], added to the previous result.
  EXPECT_EQ(c, (std::vector<float>{45, 52, 81, 94}));
}

Conv2dGeometry make_geometry(int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,
                             int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh,
                             int64_t dw) {
  Conv2dGeometry g;
  g.channels = c;
  g.height = h;
  g.width = w;
  g.kernel_h = kh;
  g.kernel_w = kw;
  g.stride_h = sh;
  g.stride_w = sw;
  g.pad_h = ph;
  g.pad_w = pw;
  g.dilation_h = dh;
  g.dilation_w = dw;
  return g;
}

std::vector<Conv2dGeometry> geometries() {
  return {
      make_geometry(1, 28, 28, 5, 5, 1, 1, 0, 0, 1, 1),  // LeNet conv1
      make_geometry(3, 7, 5, 3, 3, 1, 1, 1, 1, 1, 1),
      make_geometry(2, 9, 8, 2, 3, 2, 1, 1, 2, 1, 1),  // non-square everything
      make_geometry(2, 10, 11, 3, 2, 3, 2, 2, 0, 2, 3),
      make_geometry(4, 6, 6, 1, 1, 2, 2, 0, 0, 1, 1),
      make_geometry(1, 4, 4, 3, 3, 1, 1, 3, 3, 1, 1),  // padding wider than the image
      make_geometry(2, 5, 13, 3, 5, 1, 4, 0, 2, 2, 1),
  };
}

TEST(Im2colTest, MatchesReference) {
  uint64_t seed = 50;
  for (const Conv2dGeometry& g : geometries()) {
    ASSERT_GT(g.out_h(), 0);
    ASSERT_GT(g.out_w(), 0);
    const auto image = random_values(g.channels * g.height * g.width, seed++);
    std::vector<float> fast(static_cast<size_t>(g.column_rows() * g.column_cols()), 7.0f);
    std::vector<float> slow(fast.size(), -7.0f);
    im2col(g, image.data(), fast.data());
    im2col_reference(g, image.data(), slow.data());
    EXPECT_EQ(fast, slow) << "geometry " << g.height << "x" << g.width << " k " << g.kernel_h
                          << "x" << g.kernel_w;
  }
}

TEST(Im2colTest, ReferencePicksTheRightPixelsOnAHandWorkedCase) {
  // 1 channel 3x3 image 1..9, 2x2 kernel, stride 1, padding 0: four 2x2 windows.
  const auto g = make_geometry(1, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1);
  const std::vector<float> image{1, 2, 3, 4, 5, 6, 7, 8, 9};
  std::vector<float> cols(16);
  im2col_reference(g, image.data(), cols.data());
  // Rows are kernel positions (0,0) (0,1) (1,0) (1,1); columns are output pixels.
  EXPECT_EQ(cols, (std::vector<float>{1, 2, 4, 5, 2, 3, 5, 6, 4, 5, 7, 8, 5, 6, 8, 9}));
}

TEST(Col2imTest, MatchesReferenceAndIsTheAdjointOfIm2col) {
  uint64_t seed = 90;
  for (const Conv2dGeometry& g : geometries()) {
    const int64_t image_size = g.channels * g.height * g.width;
    const auto columns = random_values(g.column_rows() * g.column_cols(), seed++);
    std::vector<float> fast(static_cast<size_t>(image_size), 3.0f);
    std::vector<float> slow(fast.size(), -3.0f);
    col2im(g, columns.data(), fast.data());
    col2im_reference(g, columns.data(), slow.data());
    expect_close(fast, slow, 1e-5f, "col2im");

    // <im2col(x), c> == <x, col2im(c)>
    const auto image = random_values(image_size, seed++);
    std::vector<float> cols(columns.size());
    im2col(g, image.data(), cols.data());
    double left = 0.0, right = 0.0;
    for (size_t i = 0; i < cols.size(); ++i) left += static_cast<double>(cols[i]) * columns[i];
    for (size_t i = 0; i < image.size(); ++i) right += static_cast<double>(image[i]) * fast[i];
    EXPECT_NEAR(left, right, 1e-3);
  }
}

// The direct kernel against im2col_reference + gemm_reference, over every geometry above and
// output channel counts that fill one, several and partial vector blocks (vectors are 8 or 16
// floats; blocks up to four vectors).
TEST(DirectConvTest, MatchesIm2colTimesWeightsPlusBias) {
  uint64_t seed = 130;
  for (const Conv2dGeometry& g : geometries()) {
    for (const int64_t out : {1, 5, 16, 20, 50, 64, 70, 100, 130}) {
      const int64_t taps = g.column_rows(), pixels = g.column_cols();
      const auto image = random_values(g.channels * g.height * g.width, seed++);
      const auto weights = random_values(out * taps, seed++);
      const auto bias = random_values(out, seed++);
      std::vector<float> cols(static_cast<size_t>(taps * pixels));
      im2col_reference(g, image.data(), cols.data());
      std::vector<float> expected(static_cast<size_t>(out * pixels));
      for (int64_t o = 0; o < out; ++o)
        std::fill(expected.begin() + o * pixels, expected.begin() + (o + 1) * pixels, bias[o]);
      gemm_reference(false, false, out, pixels, taps, weights.data(), taps, cols.data(), pixels,
                     true, expected.data(), pixels);

      DirectConv conv(g, out);
      conv.pack_weights(weights.data());
      std::vector<float> scratch(static_cast<size_t>(conv.scratch_floats()));
      std::vector<float> y(expected.size(), 9.0f);
      conv.run(image.data(), bias.data(), scratch.data(), y.data());
      const std::string what = "geometry " + std::to_string(g.height) + "x" +
                               std::to_string(g.width) + " out " + std::to_string(out);
      expect_close(y, expected, 1e-4f * std::sqrt(static_cast<float>(taps) + 1.0f), what);

      std::vector<float> no_bias = expected;
      for (int64_t o = 0; o < out; ++o)
        for (int64_t p = 0; p < pixels; ++p) no_bias[static_cast<size_t>(o * pixels + p)] -= bias[o];
      conv.run(image.data(), nullptr, scratch.data(), y.data());
      expect_close(y, no_bias, 1e-4f * std::sqrt(static_cast<float>(taps) + 1.0f), what + " no bias");
    }
  }
}

}  // namespace
}  // namespace shrink::kernels
