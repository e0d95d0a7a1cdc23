#include "shrink/core/tensor.hpp"

#include "shrink/core/error.hpp"
#include "shrink/core/threading.hpp"

#include <omp.h>

#include <algorithm>

namespace shrink {
namespace {

// The largest element count a shape may have: its size in bytes at 8 bytes per element (int64,
// double) still fits in int64, so no byte count computed from a shape overflows.
constexpr int64_t kMaxElements = INT64_MAX / 8;

}  // namespace

int64_t element_count(const Shape& shape) {
  for (int64_t d : shape)
    if (d < 0) throw Error::bad_input("negative dimension in shape " + to_string(shape));
  for (int64_t d : shape)
    if (d == 0) return 0;
  // Shapes come from files (.npy headers, ONNX dims, .shrk headers); a count that wrapped
  // would size a buffer or a byte count wrongly instead of failing.
  int64_t n = 1;
  bool overflow = false;
  for (int64_t d : shape) overflow = overflow || __builtin_mul_overflow(n, d, &n);
  if (overflow || n > kMaxElements)
    throw Error::bad_input("shape " + to_string(shape) + " has more elements than any file or " +
                           "memory holds (at most " + std::to_string(kMaxElements) + ")");
  return n;
}

std::string to_string(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

Tensor::Tensor(Shape shape, float fill) : shape_(std::move(shape)) {
  data_.assign(static_cast<size_t>(element_count(shape_)), fill);
}

Tensor::Tensor(Shape shape, std::vector<float> values) : shape_(std::move(shape)) {
  if (element_count(shape_) != static_cast<int64_t>(values.size()))
    throw Error::bad_input("tensor of shape " + to_string(shape_) + " cannot hold " +
                           std::to_string(values.size()) + " values");
  data_.assign(values.begin(), values.end());
}

void Tensor::resize(const Shape& shape) {
  shape_ = shape;
  data_.resize(static_cast<size_t>(element_count(shape_)));
}

void Tensor::reshape(const Shape& shape) {
  if (element_count(shape) != numel())
    throw Error::bad_input("cannot reshape a tensor of shape " + to_string(shape_) + " to " +
                           to_string(shape));
  shape_ = shape;
}

// Large buffers (a weight gradient before each step) are filled in contiguous per-thread shares,
// the split of every elementwise kernel, so each part is written by the thread that next uses
// it rather than pulled across cores.
void Tensor::fill(float value) {
  const int64_t n = numel();
  float* d = data_.data();
#pragma omp parallel num_threads(num_threads()) if (n >= (1 << 14))
  {
    const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
    std::fill(d + n * t / threads, d + n * (t + 1) / threads, value);
  }
}

MatrixMap Tensor::matrix(int64_t rows, int64_t cols) {
  if (rows * cols != numel())
    throw Error::internal("matrix view " + std::to_string(rows) + "x" + std::to_string(cols) +
                          " does not fit a tensor of shape " + to_string(shape_));
  return MatrixMap(data(), rows, cols);
}

ConstMatrixMap Tensor::matrix(int64_t rows, int64_t cols) const {
  if (rows * cols != numel())
    throw Error::internal("matrix view " + std::to_string(rows) + "x" + std::to_string(cols) +
                          " does not fit a tensor of shape " + to_string(shape_));
  return ConstMatrixMap(data(), rows, cols);
}

}  // namespace shrink
