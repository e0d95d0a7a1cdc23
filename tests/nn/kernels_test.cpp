// The fast kernels of src/nn/kernels against their slow, obvious references.
// The kernels are private to the library (src/), so the test reaches them by path.
#include "../../src/nn/kernels/conv_forward.hpp"
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
      // resnet-small's and vgg-small's padded 3x3 layers: row by row or on the grid,
      // depending on the vector width
      make_geometry(4, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1),
      make_geometry(8, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1),
      make_geometry(8, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1),
      make_geometry(4, 28, 28, 3, 3, 2, 2, 1, 1, 1, 1),
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

// The slow, obvious convolution: per group, im2col_reference then gemm_reference, then the
// epilogue one value at a time.
std::vector<float> reference_conv(const Conv2dGeometry& g, int64_t out, int64_t groups,
                                  const std::vector<float>& image,
                                  const std::vector<float>& weights, const Epilogue& e) {
  Conv2dGeometry group = g;
  group.channels = g.channels / groups;
  const int64_t taps = group.column_rows(), pixels = g.column_cols(), og = out / groups;
  std::vector<float> cols(static_cast<size_t>(taps * pixels));
  std::vector<float> y(static_cast<size_t>(out * pixels), 0.0f);
  for (int64_t grp = 0; grp < groups; ++grp) {
    im2col_reference(group, image.data() + grp * group.channels * g.height * g.width, cols.data());
    gemm_reference(false, false, og, pixels, taps, weights.data() + grp * og * taps, taps,
                   cols.data(), pixels, false, y.data() + grp * og * pixels, pixels);
  }
  for (int64_t c = 0; c < out; ++c)
    for (int64_t p = 0; p < pixels; ++p) {
      float& v = y[static_cast<size_t>(c * pixels + p)];
      v = v * (e.scale ? e.scale[c] : 1.0f) + (e.shift ? e.shift[c] : 0.0f);
      if (e.residual) v += e.residual[c * pixels + p];
      v = std::min(std::max(v, e.lo), e.hi);
    }
  return y;
}

std::string describe(const Conv2dGeometry& g, int64_t out, int64_t groups, Isa isa) {
  return std::string(isa_name(isa)) + ": " + std::to_string(g.channels) + "x" +
         std::to_string(g.height) + "x" + std::to_string(g.width) + " kernel " +
         std::to_string(g.kernel_h) + "x" + std::to_string(g.kernel_w) + " stride " +
         std::to_string(g.stride_h) + "," + std::to_string(g.stride_w) + " pad " +
         std::to_string(g.pad_h) + "," + std::to_string(g.pad_w) + " dilation " +
         std::to_string(g.dilation_h) + "," + std::to_string(g.dilation_w) + " out " +
         std::to_string(out) + " groups " + std::to_string(groups);
}

// Runs ConvForward with the kernels of `isa` against reference_conv, without an epilogue, with
// a bias only, and with every part of it (scale, shift, residual, clamp); returns the method.
ConvForward::Method check_conv(const Conv2dGeometry& g, int64_t out, int64_t groups, Isa isa,
                               uint64_t seed) {
  const int64_t taps = g.channels / groups * g.kernel_h * g.kernel_w;
  const int64_t pixels = g.column_cols();
  const auto image = random_values(g.channels * g.height * g.width, seed);
  const auto weights = random_values(out * taps, seed + 1);
  const auto scale = random_values(out, seed + 2);
  const auto shift = random_values(out, seed + 3);
  const auto residual = random_values(out * pixels, seed + 4);
  ConvForward conv(g, out, groups, conv_kernels(isa));
  conv.pack_weights(weights.data());
  std::vector<float> scratch(static_cast<size_t>(conv.scratch_floats()));
  const std::string what = describe(g, out, groups, isa) + " (" +
                           ConvForward::method_name(conv.method()) + ")";
  const float tolerance = 1e-4f * std::sqrt(static_cast<float>(taps) + 1.0f);

  Epilogue none;
  Epilogue bias;
  bias.shift = shift.data();
  Epilogue all;
  all.scale = scale.data();
  all.shift = shift.data();
  all.residual = residual.data();
  all.lo = -0.5f;
  all.hi = 0.75f;
  for (const Epilogue* e : {&none, &bias, &all}) {
    std::vector<float> y(static_cast<size_t>(out * pixels), 9.0f);
    conv.run(image.data(), *e, scratch.data(), y.data());
    expect_close(y, reference_conv(g, out, groups, image, weights, *e), tolerance,
                 what + (e == &none ? " no epilogue" : e == &bias ? " bias" : " full epilogue"));
  }
  return conv.method();
}

// Every geometry above with output channel counts that fill one, several and partial register
// tiles (4 or 6 channels, 8 or 16 positions a vector), on every instruction set this CPU runs.
TEST(ConvForwardTest, PlaneMethodMatchesTheReferenceOnEveryInstructionSet) {
  uint64_t seed = 130;
  for (const Isa isa : runnable_isas())
    for (const Conv2dGeometry& g : geometries())
      for (const int64_t out : {1, 5, 6, 7, 16, 20, 33, 64}) {
        EXPECT_EQ(check_conv(g, out, 1, isa, seed), ConvForward::Method::Plane);
        seed += 5;
      }
}

// The geometries above run both ways on every instruction set: the plane kernel row by row
// into the output, and on the grid with the junk columns dropped afterwards.
TEST(ConvForwardTest, PaddedConvolutionsRunRowByRowOrOnTheGrid) {
  for (const Isa isa : runnable_isas()) {
    int rows = 0, grid = 0;
    for (const Conv2dGeometry& g : geometries()) {
      const ConvForward conv(g, 8, 1, conv_kernels(isa));
      if (conv.by_rows()) ++rows;
      else if (g.pad_w > 0 || g.stride_w > 1) ++grid;
    }
    EXPECT_GT(rows, 0) << isa_name(isa);
    EXPECT_GT(grid, 0) << isa_name(isa);
  }
}

TEST(ConvForwardTest, GroupedAndDepthwiseConvolutionsMatchTheReference) {
  uint64_t seed = 700;
  for (const Isa isa : runnable_isas()) {
    // Depthwise (one input channel per group), with channel multipliers 1 and 2.
    for (const Conv2dGeometry& g :
         {make_geometry(8, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1),
          make_geometry(16, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1),  // the separable net's first layer
          make_geometry(8, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1),
          make_geometry(5, 15, 13, 3, 3, 2, 2, 1, 1, 1, 1),  // MobileNet's strided layer
          make_geometry(3, 9, 20, 5, 3, 1, 2, 2, 1, 2, 1), make_geometry(4, 6, 7, 1, 1, 1, 1, 0, 0, 1, 1)})
      for (const int64_t multiplier : {1, 2}) {
        EXPECT_EQ(check_conv(g, g.channels * multiplier, g.channels, isa, seed),
                  ConvForward::Method::Depthwise);
        seed += 5;
      }
    // Groups of several channels run the plane method group by group.
    EXPECT_EQ(check_conv(make_geometry(6, 10, 9, 3, 3, 1, 1, 1, 1, 1, 1), 9, 3, isa, seed),
              ConvForward::Method::Plane);
    seed += 5;
  }
}

TEST(ConvForwardTest, LargeWeightsUseGemmWithTheSameEpilogue) {
  // 64 x 3 x 3 taps x 256 outputs: more weights than the plane kernel's cache blocking holds.
  uint64_t seed = 900;
  for (const Isa isa : runnable_isas()) {
    EXPECT_EQ(check_conv(make_geometry(64, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1), 256, 1, isa, seed),
              ConvForward::Method::Gemm);
    EXPECT_EQ(check_conv(make_geometry(512, 4, 4, 1, 1, 1, 1, 0, 0, 1, 1), 300, 1, isa, seed + 5),
              ConvForward::Method::Gemm);
    seed += 10;
  }
}

TEST(ConvKernelsTest, TheBestInstructionSetIsTheWidestRunnableOne) {
  const std::vector<Isa> isas = runnable_isas();
  ASSERT_FALSE(isas.empty());
  EXPECT_EQ(isas.front(), Isa::Portable);
  EXPECT_EQ(best_isa(), isas.back());
  EXPECT_EQ(conv_kernels().isa, best_isa());
  for (const Isa isa : isas) {
    EXPECT_EQ(conv_kernels(isa).isa, isa);
    EXPECT_LE(isa, build_isa_cap());
  }
  EXPECT_EQ(conv_kernels(Isa::Portable).lanes, 4);
}

}  // namespace
}  // namespace shrink::kernels
