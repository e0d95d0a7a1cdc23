#include "nn/ops/ops.hpp"
#include "shrink/core/error.hpp"

#include <utility>

namespace shrink {
namespace {

using Factory = std::unique_ptr<Op> (*)(const nlohmann::json&);

// One line per op type, PyTorch's names.
const std::pair<const char*, Factory> kOps[] = {
    {"Linear", ops::make_linear},
    {"Conv2d", ops::make_conv2d},
    {"MaxPool2d", ops::make_max_pool2d},
    {"AvgPool2d", ops::make_avg_pool2d},
    {"GlobalAvgPool", ops::make_global_avg_pool},
    {"BatchNorm1d", ops::make_batch_norm1d},
    {"BatchNorm2d", ops::make_batch_norm2d},
    {"ReLU", ops::make_relu},
    {"LeakyReLU", ops::make_leaky_relu},
    {"Sigmoid", ops::make_sigmoid},
    {"Tanh", ops::make_tanh},
    {"Flatten", ops::make_flatten},
    {"Dropout", ops::make_dropout},
    {"Add", ops::make_add},
    {"Softmax", ops::make_softmax},
    {"Mul", ops::make_mul},
    {"Sub", ops::make_sub},
    {"Div", ops::make_div},
    {"BroadcastAdd", ops::make_broadcast_add},
    {"MatMul", ops::make_matmul},
    {"Clip", ops::make_clip},
    {"Hardsigmoid", ops::make_hardsigmoid},
    {"Hardswish", ops::make_hardswish},
    {"GlobalMaxPool", ops::make_global_max_pool},
    {"LogSoftmax", ops::make_log_softmax},
    {"Identity", ops::make_identity},
    {"Reshape", ops::make_reshape},
    {"Transpose", ops::make_transpose},
    {"Squeeze", ops::make_squeeze},
    {"Unsqueeze", ops::make_unsqueeze},
    {"Concat", ops::make_concat},
    {"ConvTranspose2d", ops::make_conv_transpose2d},
    {"Sign", ops::make_sign},
    {"DoReFaQuantize", ops::make_dorefa_quantize},
    {"GradientQuantize", ops::make_gradient_quantize},
    {"QuantizeLinear", ops::make_quantize_linear},
    {"DequantizeLinear", ops::make_dequantize_linear},
};

}  // namespace

std::unique_ptr<Op> make_op(const std::string& type, const nlohmann::json& attributes) {
  for (const auto& [name, factory] : kOps) {
    if (type != name) continue;
    try {
      return factory(attributes.is_null() ? nlohmann::json::object() : attributes);
    } catch (const nlohmann::json::exception& e) {
      throw Error::bad_input("op " + type + ": bad attributes " + attributes.dump() + " (" +
                             e.what() + ")");
    }
  }
  std::string known;
  for (const auto& entry : kOps) known += (known.empty() ? "" : ", ") + std::string(entry.first);
  throw Error::bad_input("unknown op type '" + type + "'; known types: " + known);
}

std::vector<std::string> op_types() {
  std::vector<std::string> names;
  for (const auto& entry : kOps) names.emplace_back(entry.first);
  return names;
}

}  // namespace shrink
