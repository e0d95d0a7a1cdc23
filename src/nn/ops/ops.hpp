#pragma once
// Factories of the built-in ops, one per file in src/nn/ops/. The registry table in
// src/nn/op_registry.cpp lists them by type name.
#include "shrink/nn/op.hpp"

namespace shrink::ops {

using Json = nlohmann::json;

std::unique_ptr<Op> make_linear(const Json& attributes);
std::unique_ptr<Op> make_conv2d(const Json& attributes);
std::unique_ptr<Op> make_max_pool2d(const Json& attributes);
std::unique_ptr<Op> make_avg_pool2d(const Json& attributes);
std::unique_ptr<Op> make_global_avg_pool(const Json& attributes);
std::unique_ptr<Op> make_batch_norm1d(const Json& attributes);
std::unique_ptr<Op> make_batch_norm2d(const Json& attributes);
std::unique_ptr<Op> make_relu(const Json& attributes);
std::unique_ptr<Op> make_leaky_relu(const Json& attributes);
std::unique_ptr<Op> make_sigmoid(const Json& attributes);
std::unique_ptr<Op> make_tanh(const Json& attributes);
std::unique_ptr<Op> make_flatten(const Json& attributes);
std::unique_ptr<Op> make_dropout(const Json& attributes);
std::unique_ptr<Op> make_add(const Json& attributes);
std::unique_ptr<Op> make_softmax(const Json& attributes);
// ONNX-semantics ops for the importer (numpy broadcasting, shape ops keeping the batch axis 0).
std::unique_ptr<Op> make_mul(const Json& attributes);
std::unique_ptr<Op> make_sub(const Json& attributes);
std::unique_ptr<Op> make_div(const Json& attributes);
std::unique_ptr<Op> make_broadcast_add(const Json& attributes);
std::unique_ptr<Op> make_matmul(const Json& attributes);
std::unique_ptr<Op> make_clip(const Json& attributes);
std::unique_ptr<Op> make_hardsigmoid(const Json& attributes);
std::unique_ptr<Op> make_hardswish(const Json& attributes);
std::unique_ptr<Op> make_global_max_pool(const Json& attributes);
std::unique_ptr<Op> make_log_softmax(const Json& attributes);
std::unique_ptr<Op> make_identity(const Json& attributes);
std::unique_ptr<Op> make_reshape(const Json& attributes);
std::unique_ptr<Op> make_transpose(const Json& attributes);
std::unique_ptr<Op> make_squeeze(const Json& attributes);
std::unique_ptr<Op> make_unsqueeze(const Json& attributes);
std::unique_ptr<Op> make_concat(const Json& attributes);
std::unique_ptr<Op> make_conv_transpose2d(const Json& attributes);
// Quantized training: binary activations, DoReFa's activation and gradient quantizers.
std::unique_ptr<Op> make_sign(const Json& attributes);
std::unique_ptr<Op> make_dorefa_quantize(const Json& attributes);
std::unique_ptr<Op> make_gradient_quantize(const Json& attributes);
std::unique_ptr<Op> make_quantize_linear(const Json& attributes);
std::unique_ptr<Op> make_dequantize_linear(const Json& attributes);

}  // namespace shrink::ops
