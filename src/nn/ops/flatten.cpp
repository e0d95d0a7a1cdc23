// Flatten: merges the dimensions from start_dim to the last into one, [N, C, H, W] -> [N, C*H*W].
// The batch dimension cannot be merged (start_dim >= 1), so the result stays batch-first.
#include "nn/ops/op_support.hpp"
#include "nn/ops/ops.hpp"

#include <algorithm>

namespace shrink::ops {
namespace {

class Flatten final : public Op {
 public:
  explicit Flatten(int64_t start_dim) : start_dim_(start_dim) {}

  std::string type() const override { return "Flatten"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    require(inputs.size() == 1,
            "Flatten takes 1 input, got " + std::to_string(inputs.size()));
    const Shape& in = inputs[0];
    const int64_t rank = static_cast<int64_t>(in.size());
    const int64_t start = start_dim_ < 0 ? start_dim_ + rank : start_dim_;
    require(start >= 1 && start < rank,
            "Flatten: start_dim " + std::to_string(start_dim_) + " is out of range for input " +
                to_string(in) + " (it must name a dimension after the batch dimension)");
    Shape out(in.begin(), in.begin() + start);
    int64_t merged = 1;
    for (int64_t d = start; d < rank; ++d) merged *= in[static_cast<size_t>(d)];
    out.push_back(merged);
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

  Json attributes() const override { return {{"start_dim", start_dim_}}; }

 private:
  int64_t start_dim_;
};

}  // namespace

std::unique_ptr<Op> make_flatten(const Json& attributes) {
  reject_unknown_attributes("Flatten", attributes, {"start_dim"});
  const int64_t start_dim = attributes.value("start_dim", int64_t{1});
  require(start_dim != 0,
          "Flatten: start_dim 0 would merge the batch dimension; use start_dim >= 1");
  return std::make_unique<Flatten>(start_dim);
}

}  // namespace shrink::ops
