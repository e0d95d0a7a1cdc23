#pragma once
// Row-major float32 tensor: a shape and a contiguous buffer. Eigen maps give math views
// without copies; layouts follow ONNX/PyTorch (NCHW, OIHW, [out, in]).
#include <Eigen/Core>
#include <cstdint>
#include <initializer_list>
#include <new>
#include <string>
#include <vector>

namespace shrink {

using Shape = std::vector<int64_t>;
using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixMap = Eigen::Map<RowMatrix, Eigen::Unaligned>;
using ConstMatrixMap = Eigen::Map<const RowMatrix, Eigen::Unaligned>;
using VectorMap = Eigen::Map<Eigen::VectorXf, Eigen::Unaligned>;
using ConstVectorMap = Eigen::Map<const Eigen::VectorXf, Eigen::Unaligned>;

int64_t element_count(const Shape& shape);

// 64-byte aligned storage (a cache line, an AVX-512 register) whatever flags a user compiles
// with, so buffers allocated in the library may be freed in user code and vice versa.
template <class T>
struct CacheAlignedAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlignment{64};
  CacheAlignedAllocator() = default;
  template <class U>
  CacheAlignedAllocator(const CacheAlignedAllocator<U>&) noexcept {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlignment)); }
  void deallocate(T* p, size_t) noexcept { ::operator delete(p, kAlignment); }
  template <class U>
  bool operator==(const CacheAlignedAllocator<U>&) const noexcept { return true; }
};
std::string to_string(const Shape& shape);  // "[64, 1, 28, 28]"

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape, float fill = 0.0f);
  Tensor(Shape shape, std::vector<float> values);

  const Shape& shape() const { return shape_; }
  int64_t dim(size_t axis) const { return shape_.at(axis); }
  size_t rank() const { return shape_.size(); }
  int64_t numel() const { return static_cast<int64_t>(data_.size()); }
  bool empty() const { return data_.empty(); }

  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }
  float& operator[](int64_t i) { return data_[static_cast<size_t>(i)]; }
  float operator[](int64_t i) const { return data_[static_cast<size_t>(i)]; }
  float* begin() { return data(); }
  float* end() { return data() + numel(); }
  const float* begin() const { return data(); }
  const float* end() const { return data() + numel(); }

  // Changes the shape, reusing the buffer's capacity; contents are unspecified after growth.
  void resize(const Shape& shape);
  // Same elements, new shape; throws if the element counts differ.
  void reshape(const Shape& shape);
  void fill(float value);
  void zero() { fill(0.0f); }

  MatrixMap matrix(int64_t rows, int64_t cols);
  ConstMatrixMap matrix(int64_t rows, int64_t cols) const;
  VectorMap flat() { return VectorMap(data(), numel()); }
  ConstVectorMap flat() const { return ConstVectorMap(data(), numel()); }

  bool operator==(const Tensor& other) const = default;

 private:
  Shape shape_;
  std::vector<float, CacheAlignedAllocator<float>> data_;
};

}  // namespace shrink
