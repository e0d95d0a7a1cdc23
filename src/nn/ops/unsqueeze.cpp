// Unsqueeze (ONNX): inserts size-1 axes at the listed positions of the output (negative counts
// from the end of the output). Position 0 would push the batch axis away and is an error.
#include "nn/ops/axes.hpp"
#include "nn/ops/op_support.hpp"
#include "nn/ops/ops.hpp"

namespace shrink::ops {
namespace {

class Unsqueeze final : public Op {
 public:
  explicit Unsqueeze(std::vector<int64_t> axes) : axes_(std::move(axes)) {}

  std::string type() const override { return "Unsqueeze"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    require(inputs.size() == 1, "Unsqueeze takes 1 input, got " + std::to_string(inputs.size()));
    const Shape& x = inputs[0];
    require(!x.empty(), "Unsqueeze needs a batch-first input [N, ...], got a scalar shape []");
    const int64_t rank = static_cast<int64_t>(x.size() + axes_.size());
    std::vector<char> inserted(static_cast<size_t>(rank), 0);
    for (int64_t axis : axes_) {
      const int64_t a = normalize_axis("Unsqueeze", "axis", axis, rank, x);
      require(!inserted[static_cast<size_t>(a)],
              "Unsqueeze: axes " + to_string(axes_) + " name output axis " + std::to_string(a) +
                  " twice");
      require(a != 0, "Unsqueeze: axis " + std::to_string(axis) + " on input " + to_string(x) +
                          " would move the batch axis from position 0; insert after it (>= 1)");
      inserted[static_cast<size_t>(a)] = 1;
    }
    Shape out;
    size_t next = 0;
    for (int64_t a = 0; a < rank; ++a) out.push_back(inserted[static_cast<size_t>(a)] ? 1 : x[next++]);
    return out;
  }

  void forward(const OpArgs& args, Tensor& output) override {
    const Tensor& x = single_input(type(), args);
    require_same_numel(type(), output, "output", x, "input");
    for_each_block(x.numel(), [&](int64_t begin, int64_t count) {
      array_block(output.data(), begin, count) = array_block(x.data(), begin, count);
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
      array_block(gx.data(), begin, count) = array_block(grad_output.data(), begin, count);
    });
  }

  Json attributes() const override { return {{"axes", axes_}}; }

 private:
  std::vector<int64_t> axes_;
};

}  // namespace

std::unique_ptr<Op> make_unsqueeze(const Json& attributes) {
  reject_unknown_attributes("Unsqueeze", attributes, {"axes"});
  require(attributes.contains("axes"), "Unsqueeze needs the attribute 'axes'");
  std::vector<int64_t> axes = json_ints(attributes, "axes");
  require(!axes.empty(), "Unsqueeze: axes must not be empty");
  return std::make_unique<Unsqueeze>(std::move(axes));
}

}  // namespace shrink::ops
