#include "io/onnx/quantized_weights.hpp"

#include "io/onnx/import_support.hpp"
#include "shrink/nn/affine_quantizer.hpp"

#include <cmath>
#include <memory>

namespace shrink::onnx_io {
namespace {

// shrink's 8-bit symmetric codes: -127..127 around zero code 127 (affine_quantizer.hpp).
constexpr int64_t kLargestCode = 127;

}  // namespace

DequantizedConstant describe_dequantize(const onnx::NodeProto& node, const std::vector<const Constant*>& in) {
  const Constant& x = *in.at(0);
  const Constant& scale = *in.at(1);
  const Constant* zero = in.size() > 2 ? in[2] : nullptr;
  DequantizedConstant dq;
  for (int64_t i = 0; i < scale.numel(); ++i) dq.scales.push_back(static_cast<float>(scale.value(i)));
  // One scale in a 1-D tensor is one for the tensor too (its axis then has one index).
  if (scale.numel() > 1) {
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    const int64_t axis = Attributes(node).get_int("axis", 1);
    dq.axis = axis < 0 ? axis + rank : axis;
  }
  if (x.data_type != onnx::TensorProto_DataType_INT8) {
    dq.refusal = "its codes are " + data_type_name(x.data_type) +
                 ", not int8 (the int8 kernels take symmetric int8 weights)";
    return dq;
  }
  if (zero != nullptr)
    for (int64_t z : zero->ints)
      if (z != 0) {
        dq.refusal = "its zero point is " + std::to_string(z) +
                     ", not 0 (the int8 kernels take symmetric int8 weights)";
        return dq;
      }
  for (int64_t code : x.ints)
    if (code < -kLargestCode) {
      dq.refusal = "it holds code " + std::to_string(code) + " (shrink's int8 weights are -127..127)";
      return dq;
    }
  return dq;
}

std::string adopt_int8_codes(Parameter& weight, const DequantizedConstant& dq, int64_t output_axis) {
  if (!dq.refusal.empty()) return dq.refusal;
  const Tensor& value = weight.value;
  const bool per_channel = dq.axis >= 0;
  if (per_channel && (dq.axis != output_axis || value.dim(0) != static_cast<int64_t>(dq.scales.size())))
    return "its scales are per index along axis " + std::to_string(dq.axis) +
           (output_axis < 0 ? ", and this layer's weight has no output-channel axis first"
                            : ", not along the output channels (axis " + std::to_string(output_axis) + ")");
  const int64_t n = value.numel();
  const int64_t channels = static_cast<int64_t>(dq.scales.size());
  const int64_t per = n / channels;
  std::vector<AffineParams> params;
  for (int64_t c = 0; c < channels; ++c) {
    const float s = dq.scales[static_cast<size_t>(c)];
    if (!(s > 0.0f && std::isfinite(s))) return "its scale " + std::to_string(s) + " is not positive";
    params.push_back({s, static_cast<int32_t>(kLargestCode)});
    // The layer's import may have changed the values (a Gemm's alpha): then they are no codes.
    for (int64_t i = c * per; i < (c + 1) * per; ++i) {
      const float code = std::nearbyint(value[i] / s);
      if (std::abs(code) > static_cast<float>(kLargestCode) || code * s != value[i])
        return "the layer's import scaled its values off the codes (a Gemm alpha other than 1)";
    }
  }
  auto quantizer = std::make_unique<AffineQuantizer>(value.shape(), 8, /*symmetric=*/true, per_channel,
                                                     AffineQuantizer::Range::MinMax);
  quantizer->set_params(params);
  weight.set_quantizer(std::move(quantizer));
  weight.adopt_value_as_effective();
  return "";
}

}  // namespace shrink::onnx_io
