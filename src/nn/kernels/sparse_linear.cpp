#include "nn/kernels/sparse_linear.hpp"

#include "nn/kernels/gemm.hpp"
#include "nn/kernels/parallel.hpp"
#include "shrink/core/error.hpp"
#include "shrink/core/threading.hpp"

#include <omp.h>

#include <algorithm>

namespace shrink::kernels {
namespace {

// Rows of the batch each thread needs before the broadcast kernel splits the batch rather than
// the outputs (each thread then transposes only its own samples).
constexpr int64_t kRowsPerThread = 32;

// The slices [begin, end) that thread t of nt owns, cut at equal shares of the steps.
std::pair<int64_t, int64_t> balanced_slices(const SparseSlices& w, int t, int nt) {
  const auto cut = [&](int i) -> int64_t {
    if (i == nt) return w.slices();
    const int64_t share = w.steps() * i / nt;
    return std::lower_bound(w.start.begin(), w.start.end() - 1, share) - w.start.begin();
  };
  return {cut(t), cut(t + 1)};
}

}  // namespace

bool runs_sparse(int64_t nonzeros, int64_t elements, int64_t batch) {
  const double density = batch <= kSparseSlicesBatch ? kSparseSlicesDensity : kSparseBroadcastDensity;
  return elements > 0 && sparse_execution_enabled() &&
         static_cast<double>(nonzeros) <= density * static_cast<double>(elements);
}

bool SparseLinear::forward(const Parameter& weight, const Tensor& x, const float* bias, Tensor& y) {
  if (!sparse_execution_enabled()) return false;
  cache_.update(weight, [](const Tensor& w, int64_t nonzeros) {
    // Compressed when some batch size runs sparse.
    const bool any = w.rank() == 2 && (runs_sparse(nonzeros, w.numel(), kSparseSlicesBatch + 1) ||
                                       runs_sparse(nonzeros, w.numel(), 1));
    return any ? compress_weight(sparse_kernels(), w.data(), w.dim(0), w.dim(1)) : SparseWeight{};
  });
  const SparseWeight& w = cache_.compressed();
  // An empty start: not compressed (no batch size runs this weight sparse).
  if (x.rank() != 2 || w.rows.start.empty() || x.dim(1) != w.rows.cols ||
      !runs_sparse(cache_.nonzeros(), cache_.elements(), x.dim(0)))
    return false;
  sparse_linear(sparse_kernels(), w, x, bias, y, scratch_);
  return true;
}

SparseWeight compress_weight(const SparseKernels& kernels, const float* dense, int64_t rows, int64_t cols) {
  return {compress_rows(dense, rows, cols), compress_slices(dense, rows, cols, kernels.lanes, kernels.table)};
}

void sparse_linear(const SparseKernels& kernels, const SparseWeight& weight, const Tensor& x,
                   const float* bias, Tensor& y, SparseScratch& scratch) {
  const SparseRows& w = weight.rows;
  const int64_t n = x.dim(0), in = w.cols, out = w.rows;
  if (y.rank() != 2 || y.dim(0) != n || y.dim(1) != out) y.resize({n, out});
  const int threads = num_threads();
  if (scratch.size() < static_cast<size_t>(threads)) scratch.resize(static_cast<size_t>(threads));
  if (n <= kSparseSlicesBatch) {
    // The slices kernel reads padded_cols() inputs: a narrower input is copied and zero-padded.
    const SparseSlices& s = weight.slices;
    const float* xs = x.data();
    int64_t ldx = in;
    if (s.padded_cols() > in) {
      std::vector<float>& padded = scratch[0];
      ldx = s.padded_cols();
      padded.assign(static_cast<size_t>(n * ldx), 0.0f);
      for (int64_t r = 0; r < n; ++r) std::copy_n(x.data() + r * in, in, padded.data() + r * ldx);
      xs = padded.data();
    }
    const auto run = [&](int t, int nt) {
      const auto [s0, s1] = balanced_slices(s, t, nt);
      if (s1 > s0) kernels.slices({&s, xs, ldx, n, bias, s0, s1, y.data(), out});
    };
    // A small product runs on this thread without entering a parallel region (libgomp builds a
    // team even for one thread, a cost a one-sample product notices).
    if (threads == 1 || n * w.nonzeros() < kParallelMacs) {
      run(0, 1);
      return;
    }
#pragma omp parallel num_threads(threads)
    run(omp_get_thread_num(), omp_get_num_threads());
    return;
  }
#pragma omp parallel num_threads(threads) if (n * w.nonzeros() >= kParallelMacs)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    using Range = std::pair<int64_t, int64_t>;
    const bool by_rows = n >= kRowsPerThread * nt;
    const auto [r0, r1] = by_rows ? thread_range(n, t, nt) : Range{0, n};
    const auto [o0, o1] = by_rows ? Range{0, out} : balanced_rows(w, t, nt);
    const int64_t rows = r1 - r0;
    if (rows > 0 && o1 > o0) {
      // [in][rows] transposed input, then [out][rows] transposed output.
      std::vector<float>& s = scratch[static_cast<size_t>(t)];
      s.resize(static_cast<size_t>((in + out) * rows));
      float* xt = s.data();
      float* yt = s.data() + in * rows;
      transpose(rows, in, x.data() + r0 * in, in, xt, rows);
      kernels.broadcast({&w, xt, rows, rows, bias, o0, o1, yt, rows});
      transpose(o1 - o0, rows, yt + o0 * rows, rows, y.data() + r0 * out + o0, out);
    }
  }
}

}  // namespace shrink::kernels
