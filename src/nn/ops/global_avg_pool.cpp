// GlobalAvgPool: [N, C, H, W] -> [N, C, 1, 1], the mean of each plane. The output keeps the two
// unit axes to match ONNX GlobalAveragePool (import/export stay a one-to-one mapping); put a
// Flatten after it to feed a Linear.
#include "nn/kernels/attributes.hpp"
#include "nn/ops/ops.hpp"
#include "shrink/core/error.hpp"
#include "shrink/core/threading.hpp"

#include <algorithm>

namespace shrink::ops {
namespace {

class GlobalAvgPool final : public Op {
 public:
  std::string type() const override { return "GlobalAvgPool"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    if (!(inputs.size() == 1))
      throw Error::bad_input("GlobalAvgPool takes 1 input, got " + std::to_string(inputs.size()));
    const Shape& x = inputs[0];
    if (!(x.size() == 4 && x[2] > 0 && x[3] > 0))
      throw Error::bad_input("GlobalAvgPool expects a non-empty NCHW input of rank 4, got shape " + to_string(x));
    return {x[0], x[1], 1, 1};
  }

  void forward(const OpArgs& args, Tensor& output) override {
    const Tensor& x = *args.inputs.at(0);
    output.resize(output_shape({x.shape()}));
    const int64_t planes = x.dim(0) * x.dim(1), image = x.dim(2) * x.dim(3);
    const float scale = 1.0f / static_cast<float>(image);
    const float* xd = x.data();
    float* yd = output.data();
    const int threads = num_threads();
#pragma omp parallel for schedule(static) num_threads(threads) if (x.numel() >= (1 << 16))
    for (int64_t plane = 0; plane < planes; ++plane) {
      const float* in = xd + plane * image;
      float sum = 0.0f;
      for (int64_t i = 0; i < image; ++i) sum += in[i];
      yd[plane] = sum * scale;
    }
  }

  void backward(const OpArgs& args, const Tensor& output, const Tensor& grad_output,
                const std::vector<Tensor*>& grad_inputs) override {
    const Tensor& x = *args.inputs.at(0);
    if (!(grad_output.shape() == output.shape()))
      throw Error::bad_input("GlobalAvgPool: output gradient of shape " + to_string(grad_output.shape()) +
                " does not match the output " + to_string(output.shape()));
    Tensor* grad_x = grad_inputs.empty() ? nullptr : grad_inputs[0];
    if (!grad_x) return;
    grad_x->resize(x.shape());
    const int64_t planes = x.dim(0) * x.dim(1), image = x.dim(2) * x.dim(3);
    const float scale = 1.0f / static_cast<float>(image);
    const float* dy = grad_output.data();
    float* dx = grad_x->data();
    const int threads = num_threads();
#pragma omp parallel for schedule(static) num_threads(threads) if (x.numel() >= (1 << 16))
    for (int64_t plane = 0; plane < planes; ++plane)
      std::fill(dx + plane * image, dx + (plane + 1) * image, dy[plane] * scale);
  }

  // One add per input element.
  int64_t macs(const std::vector<Shape>& inputs) const override {
    output_shape(inputs);
    return element_count(inputs[0]);
  }
};

}  // namespace

std::unique_ptr<Op> make_global_avg_pool(const Json& attributes) {
  kernels::check_attribute_keys(attributes, "GlobalAvgPool", {});
  return std::make_unique<GlobalAvgPool>();
}

}  // namespace shrink::ops
