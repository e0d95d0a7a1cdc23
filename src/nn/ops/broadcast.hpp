#pragma once
// Elementwise binary ops with numpy/ONNX broadcasting (Mul, Sub, Div, BroadcastAdd), shared by
// their factories in mul.cpp, sub.cpp, div.cpp and broadcast_add.cpp.
//
// Two forms, chosen by the attributes:
//   {}                                   two batch-first dynamic inputs of the same rank
//   {"constant_shape": [...], "constant_first": false, "trainable": false}
//                                        one dynamic input and a constant parameter
//                                        "<node>.constant"; constant_first puts it on the left
//                                        (2 - x, 1 / x)
#include "shrink/core/tensor.hpp"
#include "shrink/nn/op.hpp"

#include <memory>
#include <string>

namespace shrink::ops {

enum class BinaryKind { Add, Sub, Mul, Div };

// numpy's rule: shapes aligned on the right; each pair of dims equal or one of them 1.
Shape broadcast_shapes(const std::string& op, const Shape& a, const Shape& b);

std::unique_ptr<Op> make_broadcast_binary(BinaryKind kind, const nlohmann::json& attributes);

}  // namespace shrink::ops
