#include "nn/kernels/gemm.hpp"

#include <cblas.h>

#include <algorithm>

namespace shrink::kernels {
namespace {

// shrink splits work across its own OpenMP threads, so each OpenBLAS call runs on the thread
// that makes it. OpenBLAS starts a pool of worker threads when it loads, and an idle worker
// spins on sched_yield for about a tenth of a second before it sleeps: on two cores that spin
// takes a core from the first batches of every run (2.5x slower eval of lenet-300-100). So the
// pool is stopped as the program starts; a later call that asks for more threads restarts it.
extern "C" int blas_thread_shutdown_(void);  // exported by OpenBLAS's threaded builds
[[maybe_unused]] const bool calling_thread_only = [] {
  openblas_set_num_threads(1);
  blas_thread_shutdown_();
  return true;
}();

}  // namespace

void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, const float* a,
          int64_t lda, const float* b, int64_t ldb, bool accumulate, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (!accumulate)
      for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    return;
  }
  cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans,
              transpose_b ? CblasTrans : CblasNoTrans, static_cast<blasint>(m),
              static_cast<blasint>(n), static_cast<blasint>(k), 1.0f, a, static_cast<blasint>(lda),
              b, static_cast<blasint>(ldb), accumulate ? 1.0f : 0.0f, c, static_cast<blasint>(ldc));
}

void transpose(int64_t rows, int64_t cols, const float* in, int64_t ldi, float* out, int64_t ldo) {
  if (rows == 0 || cols == 0) return;
  cblas_somatcopy(CblasRowMajor, CblasTrans, static_cast<blasint>(rows), static_cast<blasint>(cols),
                  1.0f, in, static_cast<blasint>(ldi), out, static_cast<blasint>(ldo));
}

void gemm_reference(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k,
                    const float* a, int64_t lda, const float* b, int64_t ldb, bool accumulate,
                    float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double sum = accumulate ? c[i * ldc + j] : 0.0;
      for (int64_t p = 0; p < k; ++p) {
        const float av = transpose_a ? a[p * lda + i] : a[i * lda + p];
        const float bv = transpose_b ? b[j * ldb + p] : b[p * ldb + j];
        sum += static_cast<double>(av) * bv;
      }
      c[i * ldc + j] = static_cast<float>(sum);
    }
  }
}

}  // namespace shrink::kernels
