#include "nn/kernels/gemm.hpp"

#include <Eigen/Core>

namespace shrink::kernels {
namespace {

using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Stride = Eigen::OuterStride<>;
using Map = Eigen::Map<Matrix, Eigen::Unaligned, Stride>;
using ConstMap = Eigen::Map<const Matrix, Eigen::Unaligned, Stride>;

}  // namespace

void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, const float* a,
          int64_t lda, const float* b, int64_t ldb, bool accumulate, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  Map out(c, m, n, Stride(ldc));
  if (!accumulate) out.setZero();
  if (k == 0) return;
  // Eigen's `noalias() +=` runs the same blocked kernel as `=`, so a zeroed (or bias-filled)
  // destination costs nothing extra.
  if (!transpose_a && !transpose_b) {
    out.noalias() += ConstMap(a, m, k, Stride(lda)) * ConstMap(b, k, n, Stride(ldb));
  } else if (!transpose_a && transpose_b) {
    out.noalias() += ConstMap(a, m, k, Stride(lda)) * ConstMap(b, n, k, Stride(ldb)).transpose();
  } else if (transpose_a && !transpose_b) {
    out.noalias() += ConstMap(a, k, m, Stride(lda)).transpose() * ConstMap(b, k, n, Stride(ldb));
  } else {
    out.noalias() += ConstMap(a, k, m, Stride(lda)).transpose() *
                     ConstMap(b, n, k, Stride(ldb)).transpose();
  }
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
