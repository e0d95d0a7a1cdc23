// DoReFaQuantize: DoReFa-Net's k-bit activations (Zhou et al. 2016), y = round(clip(x, 0, 1) *
// (2^k - 1)) / (2^k - 1), rounding half to even. Backward passes the gradient straight through
// where 0 <= x <= 1 and stops it where the clip cut. Attribute: bits (1..16). The quant.dorefa
// pass puts one in front of each quantized layer but the first.
#include "nn/ops/bits_attribute.hpp"
#include "nn/ops/op_support.hpp"
#include "nn/ops/ops.hpp"

namespace shrink::ops {
namespace {

class DoReFaQuantize final : public Op {
 public:
  explicit DoReFaQuantize(int64_t bits) : bits_(bits) {}

  std::string type() const override { return "DoReFaQuantize"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    return same_shape_output(type(), inputs);
  }

  void forward(const OpArgs& args, Tensor& output) override {
    const Tensor& x = single_input(type(), args);
    require_same_numel(type(), output, "output", x, "input");
    const float levels = static_cast<float>((int64_t{1} << bits_) - 1);
    for_each_block(x.numel(), [&](int64_t begin, int64_t count) {
      array_block(output.data(), begin, count) =
          (array_block(x.data(), begin, count).max(0.0f).min(1.0f) * levels).rint() / levels;
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
      const auto in = array_block(x.data(), begin, count);
      array_block(gx.data(), begin, count) =
          (in >= 0.0f && in <= 1.0f).select(array_block(grad_output.data(), begin, count), 0.0f);
    });
  }

  nlohmann::json attributes() const override { return {{"bits", bits_}}; }

 private:
  int64_t bits_;
};

}  // namespace

std::unique_ptr<Op> make_dorefa_quantize(const Json& attributes) {
  reject_unknown_attributes("DoReFaQuantize", attributes, {"bits"});
  return std::make_unique<DoReFaQuantize>(read_bits_attribute(attributes, "DoReFaQuantize"));
}

}  // namespace shrink::ops
