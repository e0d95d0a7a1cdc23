#pragma once
// Shared plumbing of the small ops (activations, Add, Dropout, Flatten, Softmax, BatchNorm):
// attribute and argument checks that name the op, and a block loop that only goes parallel when
// the tensor is large enough to repay the cost of waking the OpenMP team.
#include "nn/kernels/parallel.hpp"
#include "shrink/core/error.hpp"
#include "shrink/core/tensor.hpp"
#include "shrink/core/threading.hpp"
#include "shrink/nn/op.hpp"

#include <omp.h>

#include <algorithm>
#include <initializer_list>
#include <cstdint>
#include <string>
#include <vector>

namespace shrink::ops {

// Below this many elements a single thread beats the fork/join overhead.
inline constexpr int64_t kParallelElements = int64_t{1} << 16;
// Block size within a thread's share: large enough to vectorise.
inline constexpr int64_t kElementBlock = int64_t{1} << 14;

// Calls body(begin, count) over [0, n) in blocks; in parallel only when n is large. Each thread
// takes one contiguous share, kernels::thread_range's, the split Linear gives a large batch and
// Tensor::fill and the optimizer give a buffer, so the parts of an activation stay with the
// thread that wrote them instead of crossing cores.
template <class Body>
void for_each_block(int64_t n, const Body& body) {
#pragma omp parallel num_threads(num_threads()) if (n > kParallelElements)
  {
    const auto [begin, end] =
        kernels::thread_range(n, omp_get_thread_num(), omp_get_num_threads());
    for (int64_t b = begin; b < end; b += kElementBlock) body(b, std::min(kElementBlock, end - b));
  }
}

inline Eigen::Map<Eigen::ArrayXf> array_block(float* data, int64_t begin, int64_t count) {
  return Eigen::Map<Eigen::ArrayXf>(data + begin, count);
}
inline Eigen::Map<const Eigen::ArrayXf> array_block(const float* data, int64_t begin,
                                                    int64_t count) {
  return Eigen::Map<const Eigen::ArrayXf>(data + begin, count);
}

// A misspelt attribute must not silently fall back to its default.
inline void reject_unknown_attributes(const std::string& op, const nlohmann::json& attributes,
                                      std::initializer_list<const char*> known) {
  if (!attributes.is_object())
    throw Error::bad_input(op + ": attributes must be a JSON object, got " + attributes.dump());
  for (const auto& item : attributes.items()) {
    bool found = false;
    for (const char* name : known) found = found || item.key() == name;
    if (found) continue;
    std::string list;
    for (const char* name : known) list += (list.empty() ? "" : ", ") + std::string(name);
    throw Error::bad_input(op + ": unknown attribute '" + item.key() + "'" +
                           (list.empty() ? " (it takes none)" : "; known attributes: " + list));
  }
}

// Validates the input count and rank of a one-input op whose output has the input's shape.
inline Shape same_shape_output(const std::string& op, const std::vector<Shape>& inputs) {
  require(inputs.size() == 1, op + " takes 1 input, got " + std::to_string(inputs.size()));
  require(!inputs[0].empty(),
          op + " needs a batch-first input [N, ...], got a scalar shape []");
  return inputs[0];
}

// Checks the runtime arguments of a one-input op (forward or backward).
inline const Tensor& single_input(const std::string& op, const OpArgs& args) {
  if (args.inputs.size() != 1 || args.inputs[0] == nullptr)
    throw Error::internal(op + " was run with " + std::to_string(args.inputs.size()) +
                          " inputs, expected 1");
  return *args.inputs[0];
}

inline void require_same_numel(const std::string& op, const Tensor& a, const char* what_a,
                               const Tensor& b, const char* what_b) {
  if (a.numel() != b.numel())
    throw Error::internal(op + ": " + what_a + " of shape " + to_string(a.shape()) +
                          " does not match " + what_b + " of shape " + to_string(b.shape()));
}

}  // namespace shrink::ops
