#include "shrink/core/random.hpp"
#include "shrink/nn/gradient_check.hpp"
#include "shrink/nn/op.hpp"

#include "op_testing.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

namespace shrink::testing {
namespace {

using Json = nlohmann::json;

// Distinct values 0.1 apart in random order: no ties, and a finite-difference step of 0.01
// never changes which element wins a window.
Tensor spread_tensor(const Shape& shape, uint64_t seed) {
  Tensor t(shape);
  std::vector<int64_t> order(static_cast<size_t>(t.numel()));
  std::iota(order.begin(), order.end(), 0);
  Rng rng(seed);
  rng.shuffle(order);
  for (int64_t i = 0; i < t.numel(); ++i)
    t[i] = 0.1f * static_cast<float>(order[static_cast<size_t>(i)] - t.numel() / 2);
  return t;
}

// Padding before (ph, pw) and after (eh, ew; -1: the same), dilation and ceil_mode.
struct Config {
  int64_t kh, kw, sh, sw, ph, pw, eh = -1, ew = -1, dh = 1, dw = 1;
  bool ceil = false;
  int64_t end_h() const { return eh < 0 ? ph : eh; }
  int64_t end_w() const { return ew < 0 ? pw : ew; }
  Json json() const {
    Json j{{"kernel_size", {kh, kw}}, {"stride", {sh, sw}}, {"padding", {ph, pw}}};
    if (end_h() != ph || end_w() != pw) j["padding_end"] = {end_h(), end_w()};
    if (dh != 1 || dw != 1) j["dilation"] = {dh, dw};
    if (ceil) j["ceil_mode"] = true;
    return j;
  }
};

// ONNX's output size: (in + pads - dilated kernel) / stride + 1, rounded down or (ceil_mode) up,
// less a last window that would start in the end padding.
int64_t reference_size(int64_t in, int64_t k, int64_t s, int64_t pb, int64_t pe, int64_t d,
                       bool ceil) {
  const double exact = static_cast<double>(in + pb + pe - (d * (k - 1) + 1)) / s;
  int64_t out = static_cast<int64_t>(ceil ? std::ceil(exact) : std::floor(exact)) + 1;
  if (ceil && (out - 1) * s >= in + pb) --out;
  return out;
}

Tensor reference_max_pool(const Config& c, const Tensor& x) {
  const int64_t n = x.dim(0), ch = x.dim(1), h = x.dim(2), w = x.dim(3);
  const int64_t oh = reference_size(h, c.kh, c.sh, c.ph, c.end_h(), c.dh, c.ceil);
  const int64_t ow = reference_size(w, c.kw, c.sw, c.pw, c.end_w(), c.dw, c.ceil);
  Tensor y({n, ch, oh, ow});
  for (int64_t p = 0; p < n * ch; ++p)
    for (int64_t yy = 0; yy < oh; ++yy)
      for (int64_t xx = 0; xx < ow; ++xx) {
        float best = -std::numeric_limits<float>::infinity();
        for (int64_t ki = 0; ki < c.kh; ++ki)
          for (int64_t kj = 0; kj < c.kw; ++kj) {
            const int64_t iy = yy * c.sh - c.ph + ki * c.dh, ix = xx * c.sw - c.pw + kj * c.dw;
            if (iy >= 0 && iy < h && ix >= 0 && ix < w)
              best = std::max(best, x[(p * h + iy) * w + ix]);
          }
        y[(p * oh + yy) * ow + xx] = best;
      }
  return y;
}

const Config kConfigs[] = {
    {2, 2, 2, 2, 0, 0},  // LeNet
    {3, 3, 2, 2, 1, 1},  // overlapping, padded
    {2, 3, 1, 2, 1, 0},  // non-square kernel and stride
    {3, 1, 3, 1, 0, 0},
    {3, 3, 1, 1, 1, 1},  // stride 1: every pixel in several windows
    {2, 2, 1, 1, 0, 0, 1, 1},              // asymmetric: ONNX's auto_pad SAME_UPPER
    {3, 2, 1, 1, 2, 1, 0, 0},              // more padding before than half the kernel
    {3, 3, 2, 2, 0, 0, -1, -1, 1, 1, true},  // ceil_mode adds a last, partial window
    {2, 2, 1, 1, 0, 0, -1, -1, 2, 2},      // dilation
    {3, 2, 2, 1, 1, 1, 2, 0, 2, 3, true},   // all of them
};

TEST(MaxPool2dTest, ForwardMatchesReference) {
  uint64_t seed = 1;
  for (const Config& c : kConfigs) {
    auto op = make_op("MaxPool2d", c.json());
    const Tensor x = spread_tensor({2, 3, 7, 6}, seed++);
    const Tensor y = run_forward(*op, x);
    const Tensor expected = reference_max_pool(c, x);
    ASSERT_EQ(y.shape(), expected.shape()) << c.json().dump();
    EXPECT_EQ(y, expected) << c.json().dump();
  }
}

TEST(MaxPool2dTest, HandWorkedExampleAndGradientRouting) {
  auto op = make_op("MaxPool2d", {{"kernel_size", 2}});
  const Tensor x({1, 1, 2, 4}, {1, 5, 2, 0, 3, 4, 7, 7});
  OpArgs args;
  args.inputs = {&x};
  Tensor y(op->output_shape({x.shape()}));
  op->forward(args, y);
  EXPECT_EQ(y, Tensor({1, 1, 1, 2}, {5, 7}));
  Tensor dx;
  op->backward(args, y, Tensor({1, 1, 1, 2}, {10, 20}), {&dx});
  // The tie between the two 7s goes to the first one, as in PyTorch.
  EXPECT_EQ(dx, Tensor({1, 1, 2, 4}, {0, 10, 0, 0, 0, 0, 20, 0}));
}

TEST(MaxPool2dTest, NanWinsItsWindowAndTakesTheGradient) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const Json& attributes : {Json{{"kernel_size", 2}},
                                 Json{{"kernel_size", 2}, {"stride", 2}, {"padding", 1}}}) {
    auto op = make_op("MaxPool2d", attributes);
    const Tensor x({1, 1, 2, 4}, {1, nan, 2, 0, 3, 4, 7, nan});
    OpArgs args;
    args.inputs = {&x};
    Tensor y(op->output_shape({x.shape()}));
    op->forward(args, y);
    Tensor dx;
    op->backward(args, y, Tensor(y.shape(), 1.0f), {&dx});
    EXPECT_TRUE(std::isnan(y[attributes.contains("padding") ? 1 : 0])) << attributes.dump();
    EXPECT_EQ(dx[1], 1.0f) << attributes.dump();  // the NaN, not the larger 4 after it
    EXPECT_EQ(dx[5], 0.0f) << attributes.dump();
  }
}

TEST(MaxPool2dTest, GradientsMatchFiniteDifferences) {
  uint64_t seed = 40;
  for (const Config& c : kConfigs) {
    auto op = make_op("MaxPool2d", c.json());
    // An odd and an even width: 2x2 stride-2 pooling of an even width has its own kernel.
    for (const int64_t width : {7, 8}) {
      expect_gradients_match(*op, {spread_tensor({2, 2, 6, width}, seed++)}, {}, 1e-2,
                             c.json().dump());
    }
  }
}

TEST(MaxPool2dTest, AttributesRoundTripInNormalizedForm) {
  auto op = make_op("MaxPool2d", {{"kernel_size", 3}});
  const Json expected{{"kernel_size", {3, 3}}, {"stride", {3, 3}}, {"padding", {0, 0}}};
  EXPECT_EQ(op->attributes(), expected);
  EXPECT_EQ(make_op("MaxPool2d", expected)->attributes(), expected);
  for (const Config& c : kConfigs)
    EXPECT_EQ(make_op("MaxPool2d", make_op("MaxPool2d", c.json())->attributes())->attributes(),
              c.json());
  EXPECT_EQ(op->output_shape({{4, 2, 10, 9}}), (Shape{4, 2, 3, 3}));
}

TEST(MaxPool2dTest, BadInputsNameTheOpAndTheCulprit) {
  auto op = make_op("MaxPool2d", {{"kernel_size", 3}});
  std::string m = bad_input_message([&] { op->output_shape({{2, 3, 4}}); });
  EXPECT_NE(m.find("MaxPool2d"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 3, 4]"), std::string::npos) << m;
  m = bad_input_message([&] { op->output_shape({{1, 1, 2, 8}}); });
  EXPECT_NE(m.find("[1, 1, 2, 8]"), std::string::npos) << m;
  m = bad_input_message([&] { make_op("MaxPool2d", {{"kernel_size", 2}, {"padding", 2}}); });
  EXPECT_NE(m.find("smaller than the kernel"), std::string::npos) << m;
  m = bad_input_message([&] { make_op("MaxPool2d", {{"stride", 2}}); });
  EXPECT_NE(m.find("kernel_size"), std::string::npos) << m;
  m = bad_input_message([&] { make_op("MaxPool2d", {{"kernel_size", 2}, {"dilation", 0}}); });
  EXPECT_NE(m.find("dilation"), std::string::npos) << m;
  // A window of padding alone: dilation 3 steps over both real rows.
  op = make_op("MaxPool2d", {{"kernel_size", 2}, {"stride", 1}, {"padding", 1}, {"dilation", 3}});
  m = bad_input_message([&] { op->output_shape({{1, 1, 2, 5}}); });
  EXPECT_NE(m.find("only padding"), std::string::npos) << m;
}

}  // namespace
}  // namespace shrink::testing
