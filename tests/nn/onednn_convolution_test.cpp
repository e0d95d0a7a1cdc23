// The fp32 oneDNN convolution of the inference lowering (nn/kernels/onednn_convolution.hpp)
// against a direct convolution written out here: groups (depthwise), strides, asymmetric
// padding, dilation, the folded scale, bias, residual and clamps, every mix of NCHW and
// channels-last tensors, a cached primitive per batch size, and a changed weight. Under
// SHRINK_ISA the kernel oneDNN picks is of that instruction set (this binary again).
#include "../../src/nn/kernels/isa.hpp"
#include "../../src/nn/kernels/onednn.hpp"
#include "../../src/nn/kernels/onednn_convolution.hpp"
#include "shrink/core/random.hpp"
#include "support/cli.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <string>

namespace shrink::kernels {
namespace {

struct Case {
  int64_t n, channels, height, width;
  Fp32ConvolutionGeometry g;
  bool bias, scale;
  Fp32ConvolutionEpilogue epilogue;
};

Parameter random_parameter(const Shape& shape, float lo, float hi, uint64_t seed) {
  Parameter p;
  p.value = Tensor(shape);
  Rng rng(seed);
  for (float& v : p.value) v = rng.uniform(lo, hi);
  p.mark_changed();
  return p;
}

int64_t out_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation) {
  return (in + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;
}

// clamp(conv(x, w) * scale + bias + residual), all NCHW, in double.
Tensor reference(const Case& c, const Tensor& x, const Parameter& w, const Parameter* bias,
                 const Parameter* scale, const Tensor* residual, const Shape& out) {
  const Fp32ConvolutionGeometry& g = c.g;
  Tensor y(out);
  const int64_t per_group = c.channels / g.groups, out_per_group = g.out_channels / g.groups;
  for (int64_t s = 0; s < c.n; ++s)
    for (int64_t o = 0; o < g.out_channels; ++o)
      for (int64_t i = 0; i < out[2]; ++i)
        for (int64_t j = 0; j < out[3]; ++j) {
          double acc = 0.0;
          const int64_t group = o / out_per_group;
          for (int64_t ci = 0; ci < per_group; ++ci)
            for (int64_t a = 0; a < g.kernel_h; ++a)
              for (int64_t b = 0; b < g.kernel_w; ++b) {
                const int64_t r = i * g.stride_h - g.pad_h + a * g.dilation_h;
                const int64_t col = j * g.stride_w - g.pad_w + b * g.dilation_w;
                if (r < 0 || r >= c.height || col < 0 || col >= c.width) continue;
                const int64_t channel = group * per_group + ci;
                acc += static_cast<double>(x[((s * c.channels + channel) * c.height + r) * c.width + col]) *
                       w.value[((o * per_group + ci) * g.kernel_h + a) * g.kernel_w + b];
              }
          if (scale) acc *= scale->value[o];
          if (bias) acc += bias->value[o];
          const int64_t at = ((s * g.out_channels + o) * out[2] + i) * out[3] + j;
          if (residual) acc += (*residual)[at];
          y[at] = std::clamp(static_cast<float>(acc), c.epilogue.lo, c.epilogue.hi);
        }
  return y;
}

// NCHW <-> NHWC under the same shape.
Tensor to_channels_last(const Tensor& t) {
  Tensor r(t.shape());
  const int64_t n = t.dim(0), c = t.dim(1), p = t.dim(2) * t.dim(3);
  for (int64_t s = 0; s < n; ++s)
    for (int64_t k = 0; k < c; ++k)
      for (int64_t i = 0; i < p; ++i) r[(s * p + i) * c + k] = t[(s * c + k) * p + i];
  return r;
}
Tensor to_planar(const Tensor& t) {
  Tensor r(t.shape());
  const int64_t n = t.dim(0), c = t.dim(1), p = t.dim(2) * t.dim(3);
  for (int64_t s = 0; s < n; ++s)
    for (int64_t k = 0; k < c; ++k)
      for (int64_t i = 0; i < p; ++i) r[(s * c + k) * p + i] = t[(s * p + i) * c + k];
  return r;
}

float largest_difference(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  float d = 0.0f;
  for (int64_t i = 0; i < a.numel(); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

// Returns the kernel oneDNN picked.
std::string check(const Case& c, uint64_t seed) {
  const Fp32ConvolutionGeometry& g = c.g;
  const Shape out{c.n, g.out_channels, out_size(c.height, g.kernel_h, g.stride_h, g.pad_h, g.dilation_h),
                  out_size(c.width, g.kernel_w, g.stride_w, g.pad_w, g.dilation_w)};
  Parameter w = random_parameter({g.out_channels, c.channels / g.groups, g.kernel_h, g.kernel_w}, -0.5f, 0.5f, seed);
  Parameter bias = random_parameter({g.out_channels}, -0.3f, 0.3f, seed + 1);
  Parameter scale = random_parameter({g.out_channels}, 0.5f, 1.5f, seed + 2);
  const Tensor x = random_parameter({c.n, c.channels, c.height, c.width}, -1.0f, 1.0f, seed + 3).value;
  const Tensor residual = random_parameter(out, -1.0f, 1.0f, seed + 4).value;
  const Tensor expected = reference(c, x, w, c.bias ? &bias : nullptr, c.scale ? &scale : nullptr,
                                    c.epilogue.residual ? &residual : nullptr, out);
  std::string kernel;
  for (int layout = 0; layout < 8; ++layout) {
    ActivationLayouts l;
    l.input_channels_last = layout & 1;
    l.residual_channels_last = (layout & 2) && c.epilogue.residual;
    l.output_channels_last = layout & 4;
    Fp32Convolution conv(g, c.epilogue);
    conv.set_layouts(l);
    const Tensor input = l.input_channels_last ? to_channels_last(x) : x;
    const Tensor r = l.residual_channels_last ? to_channels_last(residual) : residual;
    Tensor y(out);
    for (int repeat = 0; repeat < 2; ++repeat) {  // the second runs the cached primitive
      conv.forward(w, c.bias ? &bias : nullptr, c.scale ? &scale : nullptr, input,
                   c.epilogue.residual ? &r : nullptr, y);
      const Tensor planar = l.output_channels_last ? to_planar(y) : y;
      EXPECT_LE(largest_difference(expected, planar), 1e-4f) << "layout " << layout;
    }
    EXPECT_FALSE(conv.implementation().empty());
    kernel = conv.implementation();
  }
  return kernel;
}

TEST(OneDnnConvolution, DenseWithEveryEpilogueAndLayout) {
  Case c{3, 5, 9, 7, {}, true, true, {}};
  c.g.out_channels = 6;
  c.g.kernel_h = c.g.kernel_w = 3;
  c.g.pad_h = c.g.pad_w = 1;
  check(c, 1);
  c.epilogue.residual = true;
  c.epilogue.lo = 0.0f;
  check(c, 2);
  c.epilogue.lo = -0.25f;
  c.epilogue.hi = 0.5f;  // a Clip
  check(c, 3);
  c.epilogue.lo = -std::numeric_limits<float>::infinity();  // a Clip with a maximum only
  c.bias = c.scale = false;
  check(c, 4);
}

TEST(OneDnnConvolution, StridedDilatedAndPointwise) {
  Case c{2, 4, 11, 10, {}, true, false, {}};
  c.g.out_channels = 3;
  c.g.kernel_h = 3;
  c.g.kernel_w = 2;
  c.g.stride_h = 2;
  c.g.stride_w = 3;
  c.g.pad_h = 2;
  c.g.pad_w = 1;
  c.g.dilation_h = 2;
  check(c, 5);
  Case p{4, 16, 6, 6, {}, true, true, {true, 0.0f, std::numeric_limits<float>::infinity()}};
  p.g.out_channels = 32;
  check(p, 6);
}

TEST(OneDnnConvolution, DepthwiseAndGrouped) {
  Case c{2, 8, 7, 7, {}, true, true, {false, 0.0f, 6.0f}};
  c.g.out_channels = 8;
  c.g.groups = 8;
  c.g.kernel_h = c.g.kernel_w = 3;
  c.g.pad_h = c.g.pad_w = 1;
  c.g.stride_h = c.g.stride_w = 2;
  check(c, 7);
  c.g.groups = 2;
  c.g.out_channels = 6;
  check(c, 8);
}

TEST(OneDnnConvolution, OneInputChannelAndNewWeights) {
  Case c{5, 1, 8, 8, {}, true, false, {}};
  c.g.out_channels = 4;
  c.g.kernel_h = c.g.kernel_w = 3;
  check(c, 9);
  // A changed weight (a new effective version) rebuilds the reordered copy.
  Fp32Convolution conv(c.g, c.epilogue);
  Parameter w = random_parameter({4, 1, 3, 3}, -1.0f, 1.0f, 10);
  const Tensor x = random_parameter({2, 1, 8, 8}, -1.0f, 1.0f, 11).value;
  Tensor first({2, 4, 6, 6}), second({2, 4, 6, 6});
  conv.forward(w, nullptr, nullptr, x, nullptr, first);
  for (float& v : w.value) v *= 2.0f;
  w.mark_changed();
  conv.forward(w, nullptr, nullptr, x, nullptr, second);
  for (int64_t i = 0; i < first.numel(); ++i) EXPECT_NEAR(second[i], 2.0f * first[i], 1e-5f);
  // Another batch size gets its own primitive; the first is still right.
  Tensor three({3, 4, 6, 6});
  conv.forward(w, nullptr, nullptr, random_parameter({3, 1, 8, 8}, -1.0f, 1.0f, 12).value, nullptr, three);
  conv.forward(w, nullptr, nullptr, x, nullptr, first);
  EXPECT_EQ(largest_difference(first, second), 0.0f);
}

// Wide 3x3 stride-1 layers run Winograd on AVX-512 (blocked tensors inside
// the layer), to the same outputs up to rounding; a one-sided Clip, which its kernel lacks, and
// other instruction sets run the direct convolution.
TEST(OneDnnConvolution, WinogradOnWideThreeByThreeLayers) {
  Case c{3, 64, 14, 15, {}, true, true, {true, 0.0f, std::numeric_limits<float>::infinity()}};
  c.g.out_channels = 32;
  c.g.kernel_h = c.g.kernel_w = 3;
  c.g.pad_h = c.g.pad_w = 1;
  const std::string kernel = check(c, 15);
  // SHRINK_ISA caps oneDNN: its widest set says whether AVX-512 runs.
  if (onednn_isa().rfind("avx512", 0) == 0 && winograd_enabled())
    EXPECT_NE(kernel.find("wino"), std::string::npos) << kernel;
  else
    EXPECT_EQ(kernel.find("wino"), std::string::npos) << kernel;
  c.epilogue.lo = -std::numeric_limits<float>::infinity();
  c.epilogue.hi = 0.5f;
  check(c, 16);
}

// The kernel oneDNN runs follows SHRINK_ISA's cap.
TEST(OneDnnConvolution, KernelFollowsTheInstructionSet) {
  const char* isa = std::getenv("SHRINK_ISA");
  if (isa == nullptr) {
    const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
    for (Isa runnable : runnable_isas()) {
      const testing::CliResult r = testing::run_command(
          {"env", std::string("SHRINK_ISA=") + isa_name(runnable), self, "--gtest_brief=1"});
      EXPECT_EQ(r.exit_code, 0) << isa_name(runnable) << ":\n" << r.out << r.err;
    }
    return;
  }
  Fp32ConvolutionGeometry g;
  g.out_channels = 32;
  g.kernel_h = g.kernel_w = 3;
  Fp32Convolution conv(g, {});
  const Parameter w = random_parameter({32, 16, 3, 3}, -1.0f, 1.0f, 13);
  Tensor y({8, 32, 6, 6});
  conv.forward(w, nullptr, nullptr, random_parameter({8, 16, 8, 8}, -1.0f, 1.0f, 14).value, nullptr, y);
  const std::string kernel = conv.implementation(), cap = isa;
  if (cap == "avx2") EXPECT_NE(kernel.find("avx2"), std::string::npos) << kernel;
  if (cap == "avx512") EXPECT_NE(kernel.find("avx512"), std::string::npos) << kernel;
  if (cap != "avx512") EXPECT_EQ(kernel.find("avx512"), std::string::npos) << kernel;
}

}  // namespace
}  // namespace shrink::kernels
