#include "shrink/core/threading.hpp"
#include "shrink/nn/gradient_check.hpp"
#include "shrink/nn/op.hpp"

#include "op_testing.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace shrink::testing {
namespace {

using Json = nlohmann::json;

struct Config {
  int64_t out, kh, kw, sh, sw, ph, pw, dh, dw, groups;
  bool bias;
  Json json() const {
    return {{"out_channels", out}, {"kernel_size", {kh, kw}}, {"stride", {sh, sw}},
            {"padding", {ph, pw}}, {"dilation", {dh, dw}},    {"groups", groups},
            {"bias", bias}};
  }
};

// Direct convolution, seven loops, straight from the definition.
Tensor reference_conv(const Config& c, const Tensor& x, const Tensor& w, const Tensor* b) {
  const int64_t n = x.dim(0), ch = x.dim(1), h = x.dim(2), wd = x.dim(3);
  const int64_t oh = (h + 2 * c.ph - c.dh * (c.kh - 1) - 1) / c.sh + 1;
  const int64_t ow = (wd + 2 * c.pw - c.dw * (c.kw - 1) - 1) / c.sw + 1;
  const int64_t cg = ch / c.groups, og = c.out / c.groups;
  Tensor y({n, c.out, oh, ow});
  for (int64_t s = 0; s < n; ++s)
    for (int64_t o = 0; o < c.out; ++o)
      for (int64_t yy = 0; yy < oh; ++yy)
        for (int64_t xx = 0; xx < ow; ++xx) {
          double sum = b ? (*b)[o] : 0.0;
          const int64_t grp = o / og;
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t ki = 0; ki < c.kh; ++ki)
              for (int64_t kj = 0; kj < c.kw; ++kj) {
                const int64_t iy = yy * c.sh - c.ph + ki * c.dh;
                const int64_t ix = xx * c.sw - c.pw + kj * c.dw;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                sum += static_cast<double>(x[((s * ch + grp * cg + ci) * h + iy) * wd + ix]) *
                       w[((o * cg + ci) * c.kh + ki) * c.kw + kj];
              }
          y[((s * c.out + o) * oh + yy) * ow + xx] = static_cast<float>(sum);
        }
  return y;
}

const Config kConfigs[] = {
    {4, 3, 3, 1, 1, 0, 0, 1, 1, 1, true},   // plain
    {3, 3, 3, 1, 1, 1, 1, 1, 1, 1, false},  // same padding, no bias
    {5, 2, 3, 2, 1, 1, 2, 1, 1, 1, true},   // non-square kernel, stride and padding
    {4, 3, 2, 1, 2, 2, 0, 2, 3, 2, true},   // dilation and groups
    {6, 1, 1, 1, 1, 0, 0, 1, 1, 3, true},   // pointwise (no im2col), grouped
    {4, 1, 1, 2, 2, 0, 0, 1, 1, 1, true},   // 1x1 but strided: goes through im2col
    {2, 3, 3, 3, 2, 1, 1, 1, 1, 2, false},  // one output channel per group
};

TEST(Conv2dTest, ForwardMatchesDirectConvolution) {
  uint64_t seed = 1;
  for (const Config& c : kConfigs) {
    auto op = make_op("Conv2d", c.json());
    const Tensor x = random_tensor({3, c.groups * 2, 7, 9}, seed++);
    std::vector<Parameter> params = make_parameters(*op, x.shape(), seed++);
    const Tensor y = run_forward(*op, x, params);
    const Tensor expected =
        reference_conv(c, x, params[0].value, c.bias ? &params[1].value : nullptr);
    ASSERT_EQ(y.shape(), expected.shape()) << c.json().dump();
    for (int64_t i = 0; i < y.numel(); ++i)
      ASSERT_NEAR(y[i], expected[i], 1e-4) << c.json().dump() << " at " << i;
  }
}

// The forward kernel tiles output channels in blocks of up to four vectors and output pixels in
// register tiles: channel counts around the vector widths (8 and 16 floats) and their multiples,
// and images whose pixel count leaves a short last tile, exercise every block and tile shape.
TEST(Conv2dTest, ForwardMatchesDirectConvolutionAcrossChannelBlocks) {
  uint64_t seed = 100;
  for (const int64_t out : {1, 7, 8, 9, 16, 17, 20, 33, 50, 64, 70, 100, 130}) {
    for (const Config& c : {Config{out, 5, 5, 1, 1, 0, 0, 1, 1, 1, true},
                            Config{out, 3, 3, 2, 1, 1, 1, 1, 2, 1, false}}) {
      auto op = make_op("Conv2d", c.json());
      const Tensor x = random_tensor({2, 3, 13, 11}, seed++);
      std::vector<Parameter> params = make_parameters(*op, x.shape(), seed++);
      const Tensor y = run_forward(*op, x, params);
      const Tensor expected =
          reference_conv(c, x, params[0].value, c.bias ? &params[1].value : nullptr);
      ASSERT_EQ(y.shape(), expected.shape()) << c.json().dump();
      for (int64_t i = 0; i < y.numel(); ++i)
        ASSERT_NEAR(y[i], expected[i], 1e-4) << c.json().dump() << " at " << i;
    }
  }
}

TEST(Conv2dTest, ForwardMatchesAHandWorkedExample) {
  // 1x1x3x3 image 1..9, 2x2 kernel [1 0; 0 -1], bias 0.5: y = x[i][j] - x[i+1][j+1] + 0.5.
  auto op = make_op("Conv2d", {{"out_channels", 1}, {"kernel_size", 2}});
  const Tensor x({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  std::vector<Parameter> params = make_parameters(*op, x.shape(), 3);
  params[0].value = Tensor({1, 1, 2, 2}, {1, 0, 0, -1});
  params[1].value = Tensor({1}, {0.5f});
  const Tensor y = run_forward(*op, x, params);
  EXPECT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
  for (int64_t i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(y[i], -3.5f);
}

TEST(Conv2dTest, GradientsMatchFiniteDifferences) {
  uint64_t seed = 100;
  for (const Config& c : kConfigs) {
    auto op = make_op("Conv2d", c.json());
    const Tensor x = random_tensor({2, c.groups * 2, 5, 6}, seed++);
    expect_gradients_match(*op, {x}, make_parameters(*op, x.shape(), seed++), 1e-2, c.json().dump());
  }
}

// Runs forward and backward with the given thread count; returns dX, dW and db.
std::vector<Tensor> gradients(Op& op, const Tensor& x, const Tensor& dy, int threads,
                              bool input_grad = true) {
  set_num_threads(threads);
  std::vector<Parameter> params = make_parameters(op, x.shape(), 77);
  OpArgs args;
  args.inputs = {&x};
  for (auto& p : params) args.params.push_back(&p);
  Tensor y(op.output_shape({x.shape()}));
  op.forward(args, y);
  Tensor dx;
  op.backward(args, y, dy, {input_grad ? &dx : nullptr});
  return {dx, params[0].grad, params[1].grad};
}

TEST(Conv2dTest, BackwardIsDeterministicAndAgreesAcrossThreadCounts) {
  const int saved = num_threads();
  auto op = make_op("Conv2d", {{"out_channels", 6}, {"kernel_size", 3}, {"padding", 1}});
  const Tensor x = random_tensor({7, 3, 8, 8}, 5);
  const Tensor dy = random_tensor({7, 6, 8, 8}, 6);
  const auto one = gradients(*op, x, dy, 1);
  const auto two = gradients(*op, x, dy, 2);
  const auto two_again = gradients(*op, x, dy, 2);
  for (size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(two[k], two_again[k]) << "tensor " << k;
    ASSERT_EQ(one[k].shape(), two[k].shape());
    for (int64_t i = 0; i < one[k].numel(); ++i) ASSERT_NEAR(one[k][i], two[k][i], 1e-4);
  }
  // Without an input gradient (the first layer of a model) the parameter gradients still come.
  const auto no_dx = gradients(*op, x, dy, 2, false);
  EXPECT_EQ(no_dx[1], two[1]);
  EXPECT_EQ(no_dx[2], two[2]);
  set_num_threads(saved);
}

TEST(Conv2dTest, BackwardAddsIntoParameterGradients) {
  auto op = make_op("Conv2d", {{"out_channels", 2}, {"kernel_size", 1}});
  const Tensor x({1, 1, 1, 2}, {1, 2});
  std::vector<Parameter> params = make_parameters(*op, x.shape(), 8);
  params[0].grad.fill(10.0f);
  params[1].grad.fill(-10.0f);
  OpArgs args;
  args.inputs = {&x};
  for (auto& p : params) args.params.push_back(&p);
  Tensor y(op->output_shape({x.shape()}));
  op->forward(args, y);
  const Tensor dy({1, 2, 1, 2}, {1, 1, 0, 3});
  op->backward(args, y, dy, {nullptr});
  // dW[o] = sum_p dy[o,p] x[p]: [3, 6]; db = [2, 3].
  EXPECT_FLOAT_EQ(params[0].grad[0], 13.0f);
  EXPECT_FLOAT_EQ(params[0].grad[1], 16.0f);
  EXPECT_FLOAT_EQ(params[1].grad[0], -8.0f);
  EXPECT_FLOAT_EQ(params[1].grad[1], -7.0f);
}

TEST(Conv2dTest, ShapesSpecsAndMacs) {
  auto op = make_op("Conv2d", {{"out_channels", 20}, {"kernel_size", 5}});
  EXPECT_EQ(op->output_shape({{64, 1, 28, 28}}), (Shape{64, 20, 24, 24}));
  EXPECT_EQ(op->macs({{64, 1, 28, 28}}), 64LL * 20 * 24 * 24 * 25);
  auto grouped = make_op("Conv2d", {{"out_channels", 8}, {"kernel_size", {3, 1}}, {"groups", 2}});
  const auto specs = grouped->parameter_specs({{1, 6, 5, 5}});
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].shape, (Shape{8, 3, 3, 1}));
  EXPECT_EQ(specs[0].init, Init::KaimingUniform);
  EXPECT_EQ(specs[0].fan_in, 9);
  EXPECT_EQ(specs[1].shape, (Shape{8}));
  EXPECT_EQ(specs[1].init, Init::BiasUniform);
  EXPECT_EQ(specs[1].fan_in, 9);
}

TEST(Conv2dTest, AttributesRoundTripInNormalizedForm) {
  auto op = make_op("Conv2d", {{"out_channels", 4}, {"kernel_size", 3}, {"stride", {2, 1}}});
  const Json expected{{"out_channels", 4}, {"kernel_size", {3, 3}}, {"stride", {2, 1}},
                      {"padding", {0, 0}},  {"dilation", {1, 1}},    {"groups", 1},
                      {"bias", true}};
  EXPECT_EQ(op->attributes(), expected);
  for (const Config& c : kConfigs) {
    auto first = make_op("Conv2d", c.json());
    EXPECT_EQ(first->attributes(), c.json());
    EXPECT_EQ(make_op("Conv2d", first->attributes())->attributes(), c.json());
  }
}

TEST(Conv2dTest, BadInputsNameTheOpAndTheCulprit) {
  auto op = make_op("Conv2d", {{"out_channels", 4}, {"kernel_size", 3}, {"groups", 2}});
  std::string m = bad_input_message([&] { op->output_shape({{2, 4, 5}}); });
  EXPECT_NE(m.find("Conv2d"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 4, 5]"), std::string::npos) << m;
  m = bad_input_message([&] { op->output_shape({{2, 3, 5, 5}}); });
  EXPECT_NE(m.find("groups"), std::string::npos) << m;
  m = bad_input_message([&] { op->output_shape({{2, 4, 2, 5}}); });
  EXPECT_NE(m.find("empty"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 4, 2, 5]"), std::string::npos) << m;

  m = bad_input_message([&] { make_op("Conv2d", {{"out_channels", 3}, {"kernel_size", 3}, {"groups", 2}}); });
  EXPECT_NE(m.find("multiple of groups"), std::string::npos) << m;
  m = bad_input_message([&] { make_op("Conv2d", {{"out_channels", 3}}); });
  EXPECT_NE(m.find("kernel_size"), std::string::npos) << m;
  m = bad_input_message([&] { make_op("Conv2d", {{"out_channels", 3}, {"kernel_size", {3, 0}}}); });
  EXPECT_NE(m.find("kernel_size"), std::string::npos) << m;
  m = bad_input_message([&] { make_op("Conv2d", {{"out_channels", 3}, {"kernel_size", {1, 2, 3}}}); });
  EXPECT_NE(m.find("[h, w]"), std::string::npos) << m;
  m = bad_input_message([&] { make_op("Conv2d", {{"out_channels", 3}, {"kernel_size", 3}, {"padding", -1}}); });
  EXPECT_NE(m.find("padding"), std::string::npos) << m;
  m = bad_input_message([&] { make_op("Conv2d", {{"out_channels", 3}, {"kernel_size", 3}, {"strides", 2}}); });
  EXPECT_NE(m.find("unknown attribute 'strides'"), std::string::npos) << m;

  // A weight whose shape disagrees with the input channels.
  const Tensor x = random_tensor({1, 4, 5, 5}, 1);
  std::vector<Parameter> params = make_parameters(*op, {1, 6, 5, 5}, 2);
  m = bad_input_message([&] { run_forward(*op, x, params); });
  EXPECT_NE(m.find("weight"), std::string::npos) << m;
}

}  // namespace
}  // namespace shrink::testing
