#pragma once
// Single-threaded float GEMM on row-major matrices with leading dimensions (OpenBLAS's sgemm,
// kept on the calling thread). Callers split the work across OpenMP threads themselves, which
// lets them choose splits that keep results bit-identical for a given thread count.
#include <cstdint>

namespace shrink::kernels {

// C[m, n] = op(A) * op(B), or C += op(A) * op(B) when `accumulate`.
// op(A) is [m, k]: A is stored [m, k] (lda >= k), or [k, m] (lda >= m) when `transpose_a`.
// op(B) is [k, n]: B is stored [k, n] (ldb >= n), or [n, k] (ldb >= k) when `transpose_b`.
void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, const float* a,
          int64_t lda, const float* b, int64_t ldb, bool accumulate, float* c, int64_t ldc);

// out[c * ldo + r] = in[r * ldi + c] for r < rows, c < cols (OpenBLAS's somatcopy: 3x the
// speed of a tiled scalar loop at 256 x 784).
void transpose(int64_t rows, int64_t cols, const float* in, int64_t ldi, float* out, int64_t ldo);

// The obvious triple loop (double accumulator), to test gemm against.
void gemm_reference(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k,
                    const float* a, int64_t lda, const float* b, int64_t ldb, bool accumulate,
                    float* c, int64_t ldc);

}  // namespace shrink::kernels
