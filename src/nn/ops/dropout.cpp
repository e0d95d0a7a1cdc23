// Dropout (inverted): in training each element is zeroed with probability p and the survivors
// are scaled by 1 / (1 - p), so evaluation is the identity. The mask drawn in forward is kept
// for backward.
#include "nn/ops/op_support.hpp"
#include "nn/ops/ops.hpp"

namespace shrink::ops {
namespace {

class Dropout final : public Op {
 public:
  explicit Dropout(double p) : p_(p) {}

  std::string type() const override { return "Dropout"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    return same_shape_output(type(), inputs);
  }

  void forward(const OpArgs& args, Tensor& output) override {
    const Tensor& x = single_input(type(), args);
    require_same_numel(type(), output, "output", x, "input");
    if (!args.training || p_ == 0.0) {
      mask_ = Tensor();
      for_each_block(x.numel(), [&](int64_t begin, int64_t count) {
        array_block(output.data(), begin, count) = array_block(x.data(), begin, count);
      });
      return;
    }
    require(args.rng != nullptr,
            "Dropout needs a random generator (OpArgs::rng) in training mode");
    // Drawn serially so a seed gives the same mask whatever the thread count.
    const float p = static_cast<float>(p_);
    const float scale = p_ < 1.0 ? static_cast<float>(1.0 / (1.0 - p_)) : 0.0f;
    mask_.resize(x.shape());
    for (float& m : mask_) m = args.rng->uniform() < p ? 0.0f : scale;
    for_each_block(x.numel(), [&](int64_t begin, int64_t count) {
      array_block(output.data(), begin, count) =
          array_block(x.data(), begin, count) * array_block(mask_.data(), begin, count);
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
    if (!args.training || p_ == 0.0) {
      for_each_block(x.numel(), [&](int64_t begin, int64_t count) {
        array_block(gx.data(), begin, count) = array_block(grad_output.data(), begin, count);
      });
      return;
    }
    if (mask_.shape() != x.shape())
      throw Error::internal("Dropout: backward in training mode without a matching forward "
                            "(mask " + to_string(mask_.shape()) + ", input " +
                            to_string(x.shape()) + ")");
    for_each_block(x.numel(), [&](int64_t begin, int64_t count) {
      array_block(gx.data(), begin, count) = array_block(grad_output.data(), begin, count) *
                                             array_block(mask_.data(), begin, count);
    });
  }

  Json attributes() const override { return {{"p", p_}}; }

 private:
  double p_;
  Tensor mask_;  // 0 or 1 / (1 - p) per element, from the last training forward
};

}  // namespace

std::unique_ptr<Op> make_dropout(const Json& attributes) {
  reject_unknown_attributes("Dropout", attributes, {"p"});
  const double p = attributes.value("p", 0.5);
  require(p >= 0.0 && p <= 1.0,
          "Dropout: probability p must be in [0, 1], got " + Json(p).dump());
  return std::make_unique<Dropout>(p);
}

}  // namespace shrink::ops
