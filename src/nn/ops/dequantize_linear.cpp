// DequantizeLinear (ONNX, per tensor): y = (x - zero_point) * scale, x the codes of a
// QuantizeLinear (whole-number floats; nn/ops/linear_quantization.hpp). Linear, so its backward
// is exact: dx = dy * scale.
#include "nn/ops/linear_quantization.hpp"
#include "nn/ops/ops.hpp"

namespace shrink::ops {
namespace {

class DequantizeLinear final : public Op {
 public:
  explicit DequantizeLinear(const LinearQuantization& q) : q_(q) {}

  std::string type() const override { return "DequantizeLinear"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    return same_shape_output(type(), inputs);
  }

  void forward(const OpArgs& args, Tensor& output) override {
    const Tensor& x = single_input(type(), args);
    require_same_numel(type(), output, "output", x, "input");
    const float zero = static_cast<float>(q_.zero_point);
    for_each_block(x.numel(), [&](int64_t begin, int64_t count) {
      array_block(output.data(), begin, count) =
          (array_block(x.data(), begin, count) - zero) * q_.scale;
    });
  }

  void backward(const OpArgs& args, const Tensor& output, const Tensor& grad_output,
                const std::vector<Tensor*>& grad_inputs) override {
    (void)output;
    const Tensor& x = single_input(type(), args);
    if (grad_inputs.empty() || grad_inputs[0] == nullptr) return;
    require_same_numel(type(), grad_output, "output gradient", x, "input");
    Tensor& gx = *grad_inputs[0];
    gx.resize(x.shape());
    for_each_block(x.numel(), [&](int64_t begin, int64_t count) {
      array_block(gx.data(), begin, count) = array_block(grad_output.data(), begin, count) * q_.scale;
    });
  }

  nlohmann::json attributes() const override { return q_.attributes(); }

 private:
  LinearQuantization q_;
};

}  // namespace

std::unique_ptr<Op> make_dequantize_linear(const Json& attributes) {
  return std::make_unique<DequantizeLinear>(LinearQuantization::read(attributes, "DequantizeLinear"));
}

}  // namespace shrink::ops
