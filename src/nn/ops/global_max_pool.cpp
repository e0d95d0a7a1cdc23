// GlobalMaxPool (ONNX): the maximum over all spatial positions of each channel,
// [N, C, d1, d2, ...] -> [N, C, 1, 1, ...]. The gradient goes to the first position holding
// the maximum, remembered from the forward pass.
#include "nn/ops/op_support.hpp"
#include "nn/ops/ops.hpp"

namespace shrink::ops {
namespace {

class GlobalMaxPool final : public Op {
 public:
  std::string type() const override { return "GlobalMaxPool"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    require(inputs.size() == 1,
            "GlobalMaxPool takes 1 input, got " + std::to_string(inputs.size()));
    const Shape& x = inputs[0];
    require(x.size() >= 3, "GlobalMaxPool needs an input [N, C, spatial...] of rank >= 3, got " +
                               to_string(x));
    Shape out(x.size(), 1);
    out[0] = x[0];
    out[1] = x[1];
    return out;
  }

  void forward(const OpArgs& args, Tensor& output) override {
    const Tensor& x = single_input(type(), args);
    output_shape({x.shape()});
    const int64_t planes = x.dim(0) * x.dim(1);
    if (output.numel() != planes)
      throw Error::internal("GlobalMaxPool: output of shape " + to_string(output.shape()) +
                            " does not fit input " + to_string(x.shape()));
    const int64_t area = planes == 0 ? 0 : x.numel() / planes;
    require(area > 0, "GlobalMaxPool: input " + to_string(x.shape()) + " has no spatial positions");
    argmax_.resize(static_cast<size_t>(planes));
#pragma omp parallel for schedule(static) if (x.numel() > kParallelElements)
    for (int64_t p = 0; p < planes; ++p) {
      const float* in = x.data() + p * area;
      int64_t best = 0;
      for (int64_t i = 1; i < area; ++i)
        if (in[i] > in[best]) best = i;
      argmax_[static_cast<size_t>(p)] = best;
      output[p] = in[best];
    }
  }

  void backward(const OpArgs& args, const Tensor& output, const Tensor& grad_output,
                const std::vector<Tensor*>& grad_inputs) override {
    (void)output;
    const Tensor& x = single_input(type(), args);
    if (grad_inputs.empty() || grad_inputs[0] == nullptr) return;
    const int64_t planes = x.dim(0) * x.dim(1);
    if (static_cast<int64_t>(argmax_.size()) != planes || grad_output.numel() != planes)
      throw Error::internal("GlobalMaxPool: backward of input " + to_string(x.shape()) +
                            " does not follow a forward pass of the same shape");
    const int64_t area = x.numel() / planes;
    Tensor& gx = *grad_inputs[0];
    gx.resize(x.shape());
    gx.zero();
    for (int64_t p = 0; p < planes; ++p)
      gx[p * area + argmax_[static_cast<size_t>(p)]] = grad_output[p];
  }

 private:
  std::vector<int64_t> argmax_;  // per (n, c): flat spatial index of the maximum
};

}  // namespace

std::unique_ptr<Op> make_global_max_pool(const Json& attributes) {
  reject_unknown_attributes("GlobalMaxPool", attributes, {});
  return std::make_unique<GlobalMaxPool>();
}

}  // namespace shrink::ops
