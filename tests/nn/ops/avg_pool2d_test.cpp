#include "shrink/nn/gradient_check.hpp"
#include "shrink/nn/op.hpp"

#include "op_testing.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace shrink::testing {
namespace {

using Json = nlohmann::json;

// Padding before (ph, pw) and after (eh, ew; -1: the same) and ceil_mode.
struct Config {
  int64_t kh, kw, sh, sw, ph, pw;
  bool include_pad;
  int64_t eh = -1, ew = -1;
  bool ceil = false;
  int64_t end_h() const { return eh < 0 ? ph : eh; }
  int64_t end_w() const { return ew < 0 ? pw : ew; }
  Json json() const {
    Json j{{"kernel_size", {kh, kw}},
           {"stride", {sh, sw}},
           {"padding", {ph, pw}},
           {"count_include_pad", include_pad}};
    if (end_h() != ph || end_w() != pw) j["padding_end"] = {end_h(), end_w()};
    if (ceil) j["ceil_mode"] = true;
    return j;
  }
};

// ONNX's output size: (in + pads - kernel) / stride + 1, rounded down or (ceil_mode) up, less a
// last window that would start in the end padding.
int64_t reference_size(int64_t in, int64_t k, int64_t s, int64_t pb, int64_t pe, bool ceil) {
  const double exact = static_cast<double>(in + pb + pe - k) / s;
  int64_t out = static_cast<int64_t>(ceil ? std::ceil(exact) : std::floor(exact)) + 1;
  if (ceil && (out - 1) * s >= in + pb) --out;
  return out;
}

// count_include_pad divides by the window's taps inside the padded image [-pb, in + pe).
Tensor reference_avg_pool(const Config& c, const Tensor& x) {
  const int64_t n = x.dim(0), ch = x.dim(1), h = x.dim(2), w = x.dim(3);
  const int64_t oh = reference_size(h, c.kh, c.sh, c.ph, c.end_h(), c.ceil);
  const int64_t ow = reference_size(w, c.kw, c.sw, c.pw, c.end_w(), c.ceil);
  Tensor y({n, ch, oh, ow});
  for (int64_t p = 0; p < n * ch; ++p)
    for (int64_t yy = 0; yy < oh; ++yy)
      for (int64_t xx = 0; xx < ow; ++xx) {
        double sum = 0.0;
        int count = 0, padded = 0;
        for (int64_t ki = 0; ki < c.kh; ++ki)
          for (int64_t kj = 0; kj < c.kw; ++kj) {
            const int64_t iy = yy * c.sh - c.ph + ki, ix = xx * c.sw - c.pw + kj;
            if (iy < h + c.end_h() && ix < w + c.end_w()) ++padded;
            if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
              sum += x[(p * h + iy) * w + ix];
              ++count;
            }
          }
        y[(p * oh + yy) * ow + xx] = static_cast<float>(sum / (c.include_pad ? padded : count));
      }
  return y;
}

const Config kConfigs[] = {
    {2, 2, 2, 2, 0, 0, true},  {3, 3, 2, 2, 1, 1, true}, {3, 3, 2, 2, 1, 1, false},
    {2, 3, 1, 2, 1, 1, false}, {3, 1, 3, 1, 0, 0, true}, {3, 3, 1, 1, 1, 1, false},
    {2, 2, 1, 1, 1, 1, false, 0, 0},           // asymmetric: ONNX's auto_pad SAME_LOWER
    {3, 3, 1, 1, 2, 2, true},                  // padding larger than half the kernel
    {3, 3, 1, 1, 2, 0, false, 1, 2},
    {3, 3, 2, 2, 0, 0, true, -1, -1, true},    // ceil_mode: the last window runs past the image
    {3, 2, 2, 3, 1, 0, false, 0, 1, true},
};

TEST(AvgPool2dTest, ForwardMatchesReference) {
  uint64_t seed = 1;
  for (const Config& c : kConfigs) {
    auto op = make_op("AvgPool2d", c.json());
    const Tensor x = random_tensor({2, 3, 7, 6}, seed++);
    const Tensor y = run_forward(*op, x);
    const Tensor expected = reference_avg_pool(c, x);
    ASSERT_EQ(y.shape(), expected.shape()) << c.json().dump();
    for (int64_t i = 0; i < y.numel(); ++i)
      ASSERT_NEAR(y[i], expected[i], 1e-6) << c.json().dump() << " at " << i;
  }
}

TEST(AvgPool2dTest, PaddingCountsOnlyWhenAskedTo) {
  // 1x1x2x2 image, 3x3 kernel with padding 1, stride 2: one window holding 1..4 and 5 zeros.
  const Tensor x({1, 1, 2, 2}, {1, 2, 3, 4});
  const Json base{{"kernel_size", 3}, {"stride", 2}, {"padding", 1}};
  Json exclude = base;
  exclude["count_include_pad"] = false;
  EXPECT_FLOAT_EQ(run_forward(*make_op("AvgPool2d", base), x)[0], 10.0f / 9.0f);
  EXPECT_FLOAT_EQ(run_forward(*make_op("AvgPool2d", exclude), x)[0], 2.5f);
}

TEST(AvgPool2dTest, GradientsMatchFiniteDifferences) {
  uint64_t seed = 40;
  for (const Config& c : kConfigs) {
    auto op = make_op("AvgPool2d", c.json());
    expect_gradients_match(*op, {random_tensor({2, 2, 6, 7}, seed++)}, {}, 1e-2, c.json().dump());
  }
}

TEST(AvgPool2dTest, AttributesRoundTripInNormalizedForm) {
  auto op = make_op("AvgPool2d", {{"kernel_size", {2, 3}}});
  const Json expected{{"kernel_size", {2, 3}},
                      {"stride", {2, 3}},
                      {"padding", {0, 0}},
                      {"count_include_pad", true}};
  EXPECT_EQ(op->attributes(), expected);
  for (const Config& c : kConfigs)
    EXPECT_EQ(make_op("AvgPool2d", make_op("AvgPool2d", c.json())->attributes())->attributes(),
              c.json());
}

TEST(AvgPool2dTest, BadInputsNameTheOpAndTheCulprit) {
  auto op = make_op("AvgPool2d", {{"kernel_size", 4}});
  std::string m = bad_input_message([&] { op->output_shape({{2, 3}}); });
  EXPECT_NE(m.find("AvgPool2d"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
  m = bad_input_message([&] { op->output_shape({{1, 1, 3, 8}}); });
  EXPECT_NE(m.find("[1, 1, 3, 8]"), std::string::npos) << m;
  m = bad_input_message([&] { make_op("AvgPool2d", {{"kernel_size", 2}, {"padding", {0, 2}}}); });
  EXPECT_NE(m.find("smaller than the kernel"), std::string::npos) << m;
  m = bad_input_message([&] { make_op("AvgPool2d", {{"kernel_size", 2}, {"dilation", 2}}); });
  EXPECT_NE(m.find("dilation"), std::string::npos) << m;
  m = bad_input_message([&] { make_op("AvgPool2d", {{"kernel_size", 2}, {"count_include_pad", 1}}); });
  EXPECT_NE(m.find("count_include_pad"), std::string::npos) << m;
}

}  // namespace
}  // namespace shrink::testing
