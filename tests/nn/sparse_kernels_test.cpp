// The sparse kernels of pruned Linear layers against the dense product, on every instruction set
// this CPU runs (the same rows SHRINK_ISA picks from), and Linear choosing them at inference.
#include "../../src/nn/kernels/gemm.hpp"
#include "../../src/nn/kernels/sparse_linear.hpp"
#include "shrink/core/error.hpp"
#include "shrink/core/random.hpp"
#include "shrink/core/threading.hpp"
#include "shrink/nn/model.hpp"
#include "shrink/train/optimizer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <tuple>

namespace shrink::kernels {
namespace {

// A weight with about `density` of its entries non-zero, row 1 (when there is one) empty.
struct Case {
  int64_t n, in, out;
  std::vector<float> x, w, bias;

  Case(int64_t n_, int64_t in_, int64_t out_, double density, uint64_t seed)
      : n(n_), in(in_), out(out_) {
    Rng rng(seed);
    for (int64_t i = 0; i < n * in; ++i) x.push_back(rng.normal());
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < in; ++i)
        w.push_back(o != 1 && rng.uniform() < density ? rng.normal() : 0.0f);
    for (int64_t o = 0; o < out; ++o) bias.push_back(rng.uniform(-1.0f, 1.0f));
  }

  std::vector<float> reference() const {
    std::vector<float> y(static_cast<size_t>(n * out));
    gemm_reference(false, true, n, out, in, x.data(), in, w.data(), in, false, y.data(), out);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t o = 0; o < out; ++o) y[static_cast<size_t>(r * out + o)] += bias[static_cast<size_t>(o)];
    return y;
  }

  std::vector<float> transposed_x() const {
    std::vector<float> xt(x.size());
    for (int64_t r = 0; r < n; ++r)
      for (int64_t i = 0; i < in; ++i) xt[static_cast<size_t>(i * n + r)] = x[static_cast<size_t>(r * in + i)];
    return xt;
  }
};

void expect_close(const std::vector<float>& got, const std::vector<float>& expected, const std::string& what) {
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], expected[i], 1e-5f * (1.0f + std::abs(expected[i]))) << what << " @" << i;
}

// Shapes with partial vectors and tiles on every instruction set, batch 1, an all-zero weight,
// a dense one, LeNet-300-100's first layer at 90% sparsity.
// Inputs narrower than, equal to and just past a lookup window (4, 8, 32 inputs), a dense
// 256-input row (the offsets span a byte), partial slices.
const std::tuple<int64_t, int64_t, int64_t, double> kShapes[] = {
    {1, 1, 1, 1.0},    {1, 784, 300, 0.1}, {3, 37, 13, 0.3},  {2, 5, 4, 0.0},
    {17, 100, 9, 0.5}, {129, 300, 100, 0.05}, {256, 64, 3, 1.0}, {33, 1, 7, 0.9},
    {2, 32, 33, 1.0},  {1, 33, 17, 0.6},   {1, 8, 8, 1.0},    {2, 9, 5, 0.7},
    {1, 256, 20, 1.0}};

TEST(SparseKernels, EveryInstructionSetMatchesTheDenseProduct) {
  for (Isa isa : runnable_isas()) {
    SCOPED_TRACE(isa_name(isa));
    const SparseKernels& k = sparse_kernels(isa);
    EXPECT_EQ(k.isa, isa);
    for (const auto& [n, in, out, density] : kShapes) {
      const Case c(n, in, out, density, static_cast<uint64_t>(n * 1000 + in));
      const SparseRows w = compress_rows(c.w.data(), out, in);
      const SparseSlices sl = compress_slices(c.w.data(), out, in, k.lanes, k.table);
      // The slices kernel reads a window of k.table inputs: a narrower input is zero-padded.
      const int64_t ldx = sl.padded_cols();
      std::vector<float> xp(static_cast<size_t>(n * ldx), 0.0f);
      for (int64_t r = 0; r < n; ++r) std::copy_n(c.x.data() + r * in, in, xp.data() + r * ldx);
      const std::string shape = std::to_string(n) + "x" + std::to_string(in) + "x" + std::to_string(out);
      const std::vector<float> expected = c.reference();

      std::vector<float> y(static_cast<size_t>(n * out), 123.0f);
      k.slices({&sl, xp.data(), ldx, n, c.bias.data(), 0, sl.slices(), y.data(), out});
      expect_close(y, expected, "slices " + shape);

      const std::vector<float> xt = c.transposed_x();
      std::vector<float> yt(static_cast<size_t>(n * out), 123.0f);
      k.broadcast({&w, xt.data(), n, n, c.bias.data(), 0, out, yt.data(), n});
      std::vector<float> y2(y.size());
      for (int64_t r = 0; r < n; ++r)
        for (int64_t o = 0; o < out; ++o) y2[static_cast<size_t>(r * out + o)] = yt[static_cast<size_t>(o * n + r)];
      expect_close(y2, expected, "broadcast " + shape);

      // A range of rows (of slices: their lanes' rows) writes only its own outputs; no bias
      // means none.
      std::vector<float> part(y.size(), 7.0f), part_t(y.size(), 7.0f);
      const int64_t half = sl.slices() / 2;
      k.slices({&sl, xp.data(), ldx, n, nullptr, half, sl.slices(), part.data(), out});
      k.broadcast({&w, xt.data(), n, n, nullptr, out / 2, out, part_t.data(), n});
      std::vector<char> in_slices(static_cast<size_t>(out), 0);
      for (int64_t i = half * k.lanes; i < out; ++i) in_slices[static_cast<size_t>(sl.row[static_cast<size_t>(i)])] = 1;
      for (int64_t r = 0; r < n; ++r)
        for (int64_t o = 0; o < out; ++o) {
          const size_t i = static_cast<size_t>(r * out + o), it = static_cast<size_t>(o * n + r);
          const float want = expected[i] - c.bias[static_cast<size_t>(o)];
          if (in_slices[static_cast<size_t>(o)])
            ASSERT_NEAR(part[i], want, 1e-5f * (1.0f + std::abs(want))) << shape;
          else
            ASSERT_EQ(part[i], 7.0f);
          if (o >= out / 2)
            ASSERT_NEAR(part_t[it], want, 1e-5f * (1.0f + std::abs(want))) << shape;
          else
            ASSERT_EQ(part_t[it], 7.0f);
        }
    }
  }
}

TEST(SparseKernels, CompressRowsKeepsTheNonZerosInOrder) {
  const std::vector<float> dense = {0.0f, 2.0f, 0.0f, -0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 1.0f, 0.0f, 3.0f, -4.0f};
  const SparseRows w = compress_rows(dense.data(), 3, 4);
  EXPECT_EQ(w.rows, 3);
  EXPECT_EQ(w.cols, 4);
  EXPECT_EQ(w.start, (std::vector<int32_t>{0, 1, 1, 4}));  // -0.0 is a zero; row 1 is empty
  EXPECT_EQ(w.index, (std::vector<int32_t>{1, 0, 2, 3}));
  EXPECT_EQ(w.value, (std::vector<float>{2.0f, 1.0f, 3.0f, -4.0f}));
  EXPECT_EQ(w.nonzeros(), 4);
}

TEST(SparseKernels, CompressSlicesStepsThroughEachWindowOfEachSlice) {
  // 3 rows x 6 columns, slices of 2 rows, windows of 4 inputs (the last one ends at column 5,
  // so it starts at column 2).
  const std::vector<float> dense = {1.0f, 0.0f, 2.0f, 0.0f, 0.0f, 3.0f,  //
                                    0.0f, 0.0f, 0.0f, 4.0f, 5.0f, 6.0f,  //
                                    0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
  const SparseSlices s = compress_slices(dense.data(), 3, 6, 2, 4);
  EXPECT_EQ(s.slices(), 2);
  EXPECT_EQ(s.padded_cols(), 6);
  // Slice 0, window [0, 4): row 0 has columns 0 and 2, row 1 column 3: two steps. Window
  // [4, 6) read from base 2: row 0 has column 5, row 1 columns 4 and 5: two steps. Slice 1
  // (row 2 and a padding row) holds no non-zero: no step.
  EXPECT_EQ(s.row, (std::vector<int32_t>{0, 1, 2}));  // rows 0 and 1 hold three non-zeros each
  EXPECT_EQ(s.start, (std::vector<int32_t>{0, 4, 4}));
  EXPECT_EQ(s.base, (std::vector<int32_t>{0, 0, 2, 2}));
  EXPECT_EQ(std::vector<float>(s.value.begin(), s.value.end()),
            (std::vector<float>{1.0f, 4.0f, 2.0f, 0.0f, 3.0f, 5.0f, 0.0f, 6.0f}));
  // Each lane's offsets of four steps side by side: lane 0, then lane 1.
  EXPECT_EQ(s.offset, (std::vector<uint8_t>{0, 2, 3, 0, 3, 0, 2, 3}));

  // One non-zero: a step and three zero steps (slices hold multiples of four); an input
  // narrower than the window is read zero-padded to it.
  const std::vector<float> one = {0.0f, 5.0f};
  const SparseSlices p = compress_slices(one.data(), 1, 2, 2, 4);
  EXPECT_EQ(p.start, (std::vector<int32_t>{0, 4}));
  EXPECT_EQ(p.padded_cols(), 4);
  EXPECT_EQ(std::vector<float>(p.value.begin(), p.value.end()),
            (std::vector<float>{5.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f}));
  EXPECT_EQ(p.offset, (std::vector<uint8_t>{1, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_THROW(compress_slices(dense.data(), 3, 6, 2, 257), Error);

  // Rows by non-zero count, most first: row 1 (three) ahead of row 0 (one) in the slice.
  const std::vector<float> uneven = {0.0f, 0.0f, 9.0f, 0.0f,  //
                                     1.0f, 2.0f, 0.0f, 3.0f};
  const SparseSlices u = compress_slices(uneven.data(), 2, 4, 2, 4);
  EXPECT_EQ(u.row, (std::vector<int32_t>{1, 0}));
  EXPECT_EQ(u.start, (std::vector<int32_t>{0, 4}));
  EXPECT_EQ(std::vector<float>(u.value.begin(), u.value.end()),
            (std::vector<float>{1.0f, 9.0f, 2.0f, 0.0f, 3.0f, 0.0f, 0.0f, 0.0f}));
  EXPECT_EQ(u.offset, (std::vector<uint8_t>{0, 1, 3, 0, 2, 0, 0, 0}));
}

TEST(SparseKernels, TransposeMovesEveryElementWithinLeadingDimensions) {
  const int64_t rows = 5, cols = 3, ldi = 4, ldo = 7;  // a sub-matrix on both sides
  std::vector<float> in(static_cast<size_t>(rows * ldi)), out(static_cast<size_t>(cols * ldo), -1.0f);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>(i);
  transpose(rows, cols, in.data(), ldi, out.data(), ldo);
  for (int64_t c = 0; c < cols; ++c)
    for (int64_t r = 0; r < ldo; ++r)
      EXPECT_EQ(out[static_cast<size_t>(c * ldo + r)], r < rows ? in[static_cast<size_t>(r * ldi + c)] : -1.0f);
  transpose(0, cols, in.data(), ldi, out.data(), ldo);  // empty: nothing to do
}

TEST(SparseKernels, DensityThresholdDecidesWhichLayersRunSparse) {
  // Batches of 1 and 2 (the slices kernel) from 30% density down, larger ones from 20%.
  for (int64_t batch : {1, 2}) {
    EXPECT_TRUE(runs_sparse(0, 100, batch));
    EXPECT_TRUE(runs_sparse(30, 100, batch));  // exactly at the threshold
    EXPECT_FALSE(runs_sparse(31, 100, batch));
  }
  for (int64_t batch : {3, 256}) {
    EXPECT_TRUE(runs_sparse(20, 100, batch));
    EXPECT_FALSE(runs_sparse(21, 100, batch));
  }
  EXPECT_FALSE(runs_sparse(0, 0, 1));
}

// A LeNet-300-100-like stack pruned by masks: inference runs the sparse kernels at every batch
// size and thread count, training the dense ones, and the two agree up to float rounding.
Model pruned_mlp(double sparsity, uint64_t seed) {
  Model model = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {784}}}},
       {"nodes",
        {{{"name", "fc1"}, {"type", "Linear"}, {"attributes", {{"out_features", 300}}}},
         {{"name", "relu1"}, {"type", "ReLU"}},
         {{"name", "fc2"}, {"type", "Linear"}, {"attributes", {{"out_features", 100}}}}}}});
  model.initialize(seed);
  Rng rng(seed + 1);
  for (const std::string name : {"fc1.weight", "fc2.weight"}) {
    Parameter& p = model.parameter(name);
    p.mask = Tensor(p.value.shape(), 1.0f);
    for (float& m : p.mask) m = rng.uniform() < sparsity ? 0.0f : 1.0f;
    p.apply_mask();
  }
  return model;
}

Tensor random_batch(int64_t n, uint64_t seed) {
  Tensor x({n, 784});
  Rng rng(seed);
  for (float& v : x) v = rng.normal();
  return x;
}

void expect_close(const Tensor& got, const Tensor& expected, const std::string& what) {
  ASSERT_EQ(got.shape(), expected.shape()) << what;
  for (int64_t i = 0; i < got.numel(); ++i)
    ASSERT_NEAR(got[i], expected[i], 1e-4f * (1.0f + std::abs(expected[i]))) << what << " @" << i;
}

TEST(SparseLinear, InferenceOfAPrunedModelMatchesTheDenseTrainingPath) {
  Model model = pruned_mlp(0.95, 3);
  const int saved = num_threads();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (int64_t n : {1, 2, 3, 70, 256}) {
      const Tensor x = random_batch(n, static_cast<uint64_t>(n));
      const Tensor sparse = model.forward(x);
      const Tensor dense = model.forward(x, /*training=*/true);
      expect_close(sparse, dense, "batch " + std::to_string(n) + ", " + std::to_string(threads) + " threads");
    }
  }
  set_num_threads(saved);
}

TEST(SparseLinear, RunsOnlyPastTheThresholdAndFollowsChangedWeights) {
  Model model = pruned_mlp(0.75, 4);  // 25% dense: sparse for batches of 1 and 2 only
  Parameter& w = model.parameter("fc1.weight");
  const Tensor x = random_batch(2, 9);
  Tensor y;
  SparseLinear sparse;
  EXPECT_FALSE(sparse.forward(w, random_batch(3, 9), nullptr, y));
  EXPECT_FALSE(sparse.forward(w, random_batch(256, 9), nullptr, y));
  EXPECT_TRUE(sparse.forward(w, random_batch(1, 9), nullptr, y));
  ASSERT_TRUE(sparse.forward(w, x, nullptr, y));
  EXPECT_EQ(y.shape(), (Shape{2, 300}));
  // The Linear op's own inference is this kernel's result, bit for bit.
  Model first = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {784}}}},
       {"nodes",
        {{{"name", "fc1"}, {"type", "Linear"}, {"attributes", {{"out_features", 300}, {"bias", false}}}}}}});
  first.parameter("fc1.weight") = w;
  const Tensor fc1 = first.forward(x);
  for (int64_t i = 0; i < y.numel(); ++i) ASSERT_EQ(fc1[i], y[i]) << i;

  // An optimizer step changes the weight: the next inference recompresses it.
  Tensor before = model.forward(x);
  w.grad = Tensor(w.value.shape(), 0.5f);
  model.parameter("fc1.bias").grad = Tensor({300});
  model.parameter("fc2.weight").grad = Tensor({100, 300});
  model.parameter("fc2.bias").grad = Tensor({100});
  Sgd({.lr = 0.1f}).step(model);
  const Tensor after = model.forward(x);
  expect_close(after, model.forward(x, true), "after a step");
  EXPECT_NE(before[0], after[0]);

  // Edited by hand to a dense weight (and marked changed): the layer goes back to the GEMM.
  w.mask = Tensor();
  for (float& v : w.value) v = 0.01f;
  w.mark_changed();
  EXPECT_FALSE(sparse.forward(w, x, nullptr, y));
  expect_close(model.forward(x), model.forward(x, true), "dense again");
}

}  // namespace
}  // namespace shrink::kernels
