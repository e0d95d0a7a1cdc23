// The sparse convolution (nn/kernels/sparse_conv.hpp) against the dense hand-written one
// (conv_forward.hpp) on every instruction set this CPU runs: plain, strided and padded,
// dilated, 1x1, grouped and depthwise, with and without bias, with each part of the fused
// epilogue (scale, residual, clamp), one sample and several, one thread and two; channels-last
// neighbours; Conv2d and the inference lowering choosing it; a changed weight recompressed;
// SHRINK_SPARSE=off (this binary again).
#include "../../src/nn/kernels/conv_forward.hpp"
#include "../../src/nn/kernels/sparse_conv.hpp"
#include "shrink/core/random.hpp"
#include "shrink/core/threading.hpp"
#include "shrink/nn/fused_execution.hpp"
#include "shrink/nn/model.hpp"
#include "shrink/train/optimizer.hpp"
#include "support/cli.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <string>

namespace shrink::kernels {
namespace {

struct Case {
  const char* name;
  int64_t channels, height, width, out_channels, groups;
  int64_t kernel, stride, pad, dilation;
};

const Case kCases[] = {
    {"plain 5x5", 3, 12, 11, 10, 1, 5, 1, 0, 1},
    {"strided, padded 3x3", 6, 9, 10, 17, 1, 3, 2, 1, 1},
    {"dilated 3x3", 4, 11, 11, 8, 1, 3, 1, 2, 2},
    {"1x1", 24, 7, 5, 33, 1, 1, 1, 0, 1},
    {"grouped 1x1", 12, 6, 6, 18, 3, 1, 1, 0, 1},
    {"grouped 3x3", 8, 8, 7, 12, 4, 3, 1, 1, 1},
    {"depthwise 3x3, stride 2", 16, 9, 9, 16, 16, 3, 2, 1, 1},
};

SparseConvShape shape_of(const Case& c) {
  SparseConvShape s;
  s.g.channels = c.channels;
  s.g.height = c.height;
  s.g.width = c.width;
  s.g.kernel_h = s.g.kernel_w = c.kernel;
  s.g.stride_h = s.g.stride_w = c.stride;
  s.g.pad_h = s.g.pad_w = c.pad;
  s.g.dilation_h = s.g.dilation_w = c.dilation;
  s.out_channels = c.out_channels;
  s.groups = c.groups;
  return s;
}

Tensor random_tensor(const Shape& shape, float lo, float hi, uint64_t seed) {
  Tensor t(shape);
  Rng rng(seed);
  for (float& v : t) v = rng.uniform(lo, hi);
  return t;
}

// A weight [O, C/groups, k, k] with about `density` of its entries non-zero, output channel 1
// all zero.
Parameter pruned_weight(const SparseConvShape& s, double density, uint64_t seed) {
  Parameter w;
  w.value = Tensor({s.out_channels, s.g.channels / s.groups, s.g.kernel_h, s.g.kernel_w});
  Rng rng(seed);
  const int64_t taps = s.taps();
  for (int64_t i = 0; i < w.value.numel(); ++i)
    w.value[i] = i / taps != 1 && rng.uniform() < density ? rng.uniform(-1.0f, 1.0f) : 0.0f;
  w.mark_changed();
  return w;
}

// The dense hand-written convolution through the same epilogue, sample by sample.
Tensor dense(const SparseConvShape& s, const ConvKernels& kernels, const Tensor& w, const Tensor& x,
             const Epilogue& epilogue) {
  ConvForward conv(s.g, s.out_channels, s.groups, kernels);
  conv.pack_weights(w.data());
  std::vector<float> scratch(static_cast<size_t>(conv.scratch_floats()));
  const int64_t n = x.dim(0), out = s.out_channels * s.positions();
  Tensor y({n, s.out_channels, s.g.out_h(), s.g.out_w()});
  for (int64_t i = 0; i < n; ++i) {
    Epilogue sample = epilogue;
    if (epilogue.residual) sample.residual = epilogue.residual + i * out;
    conv.run(x.data() + i * s.g.channels * s.g.height * s.g.width, sample, scratch.data(), y.data() + i * out);
  }
  return y;
}

void expect_close(const Tensor& got, const Tensor& expected, const std::string& what) {
  ASSERT_EQ(got.shape(), expected.shape()) << what;
  for (int64_t i = 0; i < got.numel(); ++i)
    ASSERT_NEAR(got[i], expected[i], 1e-4f * (1.0f + std::abs(expected[i]))) << what << " @" << i;
}

// The epilogues: none, bias, scale + shift, residual, clamp (a ReLU6), all of them.
struct Parts {
  const char* name;
  bool bias, scale, residual, clamp;
};
const Parts kEpilogues[] = {{"none", false, false, false, false},
                            {"bias", true, false, false, false},
                            {"scale", true, true, false, false},
                            {"scale, no bias", false, true, false, false},
                            {"residual", true, false, true, false},
                            {"clamp", false, false, false, true},
                            {"all", true, true, true, true}};

TEST(SparseConv, EveryInstructionSetMatchesTheDenseConvolution) {
  const int saved = num_threads();
  for (Isa isa : runnable_isas()) {
    SCOPED_TRACE(isa_name(isa));
    const SparseKernels& sparse = sparse_kernels(isa);
    const ConvKernels& conv = conv_kernels(isa);
    uint64_t seed = 1;
    for (const Case& c : kCases) {
      const SparseConvShape s = shape_of(c);
      const Parameter w = pruned_weight(s, 0.2, ++seed);
      const SparseConvWeight prepared =
          prepare_sparse_conv(compress_rows(w.value.data(), s.out_channels, s.taps()), s);
      const Tensor bias = random_tensor({s.out_channels}, -0.5f, 0.5f, ++seed);
      const Tensor scale = random_tensor({s.out_channels}, 0.5f, 1.5f, ++seed);
      for (int64_t n : {1, 3}) {
        const Tensor x = random_tensor({n, c.channels, c.height, c.width}, -1.0f, 1.0f, ++seed);
        const Tensor residual = random_tensor({n, s.out_channels, s.g.out_h(), s.g.out_w()}, -1.0f, 1.0f, ++seed);
        for (const Parts& parts : kEpilogues) {
          Epilogue e;
          e.shift = parts.bias ? bias.data() : nullptr;
          e.scale = parts.scale ? scale.data() : nullptr;
          e.residual = parts.residual ? residual.data() : nullptr;
          if (parts.clamp) {
            e.lo = 0.0f;
            e.hi = 0.6f;
          }
          const Tensor expected = dense(s, conv, w.value, x, e);
          for (int threads : {1, 2}) {
            set_num_threads(threads);
            Tensor y(expected.shape());
            SparseConvScratch scratch;
            sparse_conv(sparse, conv, prepared, n, x.data(), e, y.data(), scratch);
            expect_close(y, expected, std::string(c.name) + ", batch " + std::to_string(n) + ", epilogue " +
                                          parts.name + ", " + std::to_string(threads) + " threads");
          }
        }
      }
    }
  }
  set_num_threads(saved);
}

// NCHW <-> channels-last (NHWC under the NCHW shape).
Tensor to_channels_last(const Tensor& t, bool back = false) {
  Tensor r(t.shape());
  const int64_t n = t.dim(0), c = t.dim(1), p = t.dim(2) * t.dim(3);
  for (int64_t s = 0; s < n; ++s)
    for (int64_t k = 0; k < c; ++k)
      for (int64_t i = 0; i < p; ++i) {
        const int64_t planar = (s * c + k) * p + i, last = (s * p + i) * c + k;
        r[back ? planar : last] = t[back ? last : planar];
      }
  return r;
}

TEST(SparseConvolution, TakesAndGivesChannelsLastTensorsWhereTheLayoutsSay) {
  const SparseConvShape s = shape_of(kCases[1]);
  const Parameter w = pruned_weight(s, 0.1, 5);
  const Tensor x = random_tensor({2, s.g.channels, s.g.height, s.g.width}, -1.0f, 1.0f, 6);
  const Tensor residual = random_tensor({2, s.out_channels, s.g.out_h(), s.g.out_w()}, -1.0f, 1.0f, 7);
  const Tensor bias = random_tensor({s.out_channels}, -0.5f, 0.5f, 8);
  Epilogue e;
  e.shift = bias.data();
  e.residual = residual.data();
  e.lo = 0.0f;
  const Tensor expected = dense(s, conv_kernels(), w.value, x, e);
  SparseConvolution conv;
  for (int layout = 0; layout < 8; ++layout) {
    ActivationLayouts l;
    l.input_channels_last = layout & 1;
    l.residual_channels_last = layout & 2;
    l.output_channels_last = layout & 4;
    const Tensor input = l.input_channels_last ? to_channels_last(x) : x;
    const Tensor r = l.residual_channels_last ? to_channels_last(residual) : residual;
    Epilogue given = e;
    given.residual = r.data();
    Tensor y(expected.shape());
    ASSERT_TRUE(conv.forward(w, s, l, input, given, y));
    expect_close(l.output_channels_last ? to_channels_last(y, true) : y, expected, "layout " + std::to_string(layout));
  }
}

TEST(SparseConvolution, DensityThresholdDecidesAndAChangedWeightIsRecompressed) {
  const SparseConvShape s = shape_of(kCases[0]);
  Parameter w = pruned_weight(s, 0.05, 9);
  const Tensor x = random_tensor({2, s.g.channels, s.g.height, s.g.width}, -1.0f, 1.0f, 10);
  Tensor y({2, s.out_channels, s.g.out_h(), s.g.out_w()});
  SparseConvolution conv;
  ASSERT_TRUE(conv.forward(w, s, {}, x, {}, y));
  expect_close(y, dense(s, conv_kernels(), w.value, x, {}), "first weight");
  // A new weight, marked changed: the next forward compresses it again.
  w = pruned_weight(s, 0.05, 11);
  ASSERT_TRUE(conv.forward(w, s, {}, x, {}, y));
  expect_close(y, dense(s, conv_kernels(), w.value, x, {}), "second weight");
  // A dense one: the layer goes back to the dense kernels.
  w = pruned_weight(s, 1.0, 12);
  EXPECT_FALSE(conv_runs_sparse(w.nonzeros(), w.value.numel()));
  EXPECT_FALSE(conv.forward(w, s, {}, x, {}, y));
  // At the threshold and just past it.
  EXPECT_TRUE(conv_runs_sparse(30, 100));
  EXPECT_FALSE(conv_runs_sparse(31, 100));
  EXPECT_FALSE(conv_runs_sparse(0, 0));
}

// A small residual CNN pruned by masks to `sparsity`: 3x3 convolutions, a 1x1 one, a residual
// add, a depthwise strided one, pooling and a classifier.
Model pruned_cnn(double sparsity, uint64_t seed) {
  Model model = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {4, 12, 12}}}},
       {"nodes",
        {{{"name", "conv1"}, {"type", "Conv2d"},
          {"attributes", {{"out_channels", 16}, {"kernel_size", 3}, {"padding", 1}}}},
         {{"name", "relu1"}, {"type", "ReLU"}},
         {{"name", "conv2"}, {"type", "Conv2d"}, {"attributes", {{"out_channels", 16}, {"kernel_size", 1}}}},
         {{"name", "add"}, {"type", "Add"}, {"inputs", {"conv2", "relu1"}}},
         {{"name", "relu2"}, {"type", "ReLU"}},
         {{"name", "pool"}, {"type", "MaxPool2d"}, {"attributes", {{"kernel_size", 2}}}},
         {{"name", "conv3"}, {"type", "Conv2d"},
          {"attributes", {{"out_channels", 16}, {"kernel_size", 3}, {"stride", 2}, {"padding", 1}, {"groups", 16}}}},
         {{"name", "flat"}, {"type", "Flatten"}},
         {{"name", "fc"}, {"type", "Linear"}, {"attributes", {{"out_features", 10}}}}}}});
  model.initialize(seed);
  Rng rng(seed + 1);
  for (const std::string name : {"conv1.weight", "conv2.weight", "conv3.weight"}) {
    Parameter& p = model.parameter(name);
    p.mask = Tensor(p.value.shape(), 1.0f);
    for (float& m : p.mask) m = rng.uniform() < sparsity ? 0.0f : 1.0f;
    p.apply_mask();
  }
  return model;
}

TEST(SparseConvolution, PrunedModelInferenceMatchesTheDenseTrainingPath) {
  Model model = pruned_cnn(0.9, 3);
  std::optional<Model> lowered = inference_model(model);
  ASSERT_TRUE(lowered.has_value());
  Model fused = std::move(*lowered);
  const int saved = num_threads();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (int64_t n : {1, 2, 5}) {
      const Tensor x = random_tensor({n, 4, 12, 12}, -1.0f, 1.0f, static_cast<uint64_t>(n));
      const Tensor expected = model.forward(x, /*training=*/true);
      const std::string what = "batch " + std::to_string(n) + ", " + std::to_string(threads) + " threads";
      expect_close(model.forward(x), expected, "Conv2d, " + what);
      expect_close(fused.forward(x), expected, "FusedConv2d, " + what);
    }
  }
  set_num_threads(saved);

  // An optimizer step changes the weights: the next inference recompresses them.
  const Tensor x = random_tensor({3, 4, 12, 12}, -1.0f, 1.0f, 9);
  const Tensor before = model.forward(x);
  for (Parameter* p : model.parameters()) p->grad = Tensor(p->value.shape(), 0.5f);
  Sgd({.lr = 0.1f}).step(model);
  const Tensor after = model.forward(x);
  expect_close(after, model.forward(x, true), "after a step");
  EXPECT_NE(before[0], after[0]);
}

// SHRINK_SPARSE=off: no convolution runs sparse, however pruned (this binary again, since the
// variable is read once).
TEST(SparseConvolution, SparseOffRunsDense) {
  const char* mode = std::getenv("SHRINK_SPARSE");
  if (mode == nullptr) {
    const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
    const testing::CliResult r = testing::run_command(
        {"env", "SHRINK_SPARSE=off", self, "--gtest_filter=SparseConvolution.SparseOffRunsDense", "--gtest_brief=1"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return;
  }
  if (std::string(mode) != "off") GTEST_SKIP() << "SHRINK_SPARSE=" << mode;
  const SparseConvShape s = shape_of(kCases[0]);
  const Parameter w = pruned_weight(s, 0.0, 13);
  EXPECT_FALSE(conv_runs_sparse(w.nonzeros(), w.value.numel()));
  const Tensor x = random_tensor({1, s.g.channels, s.g.height, s.g.width}, -1.0f, 1.0f, 14);
  Tensor y({1, s.out_channels, s.g.out_h(), s.g.out_w()});
  SparseConvolution conv;
  EXPECT_FALSE(conv.forward(w, s, {}, x, {}, y));
  Model model = pruned_cnn(0.95, 4);
  const Tensor input = random_tensor({2, 4, 12, 12}, -1.0f, 1.0f, 15);
  expect_close(inference_model(model)->forward(input), model.forward(input, true), "dense");
}

}  // namespace
}  // namespace shrink::kernels
