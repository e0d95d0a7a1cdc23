// Softmax along one dimension (default 1, the class dimension of [N, K]; negative counts from
// the end). The maximum is subtracted before exponentiating so large logits cannot overflow.
// The batch axis 0 is rejected, as LogSoftmax does: normalising across samples would make one
// sample's result depend on the others in its batch.
#include "nn/ops/across_batch.hpp"
#include "nn/ops/axes.hpp"
#include "nn/ops/op_support.hpp"
#include "nn/ops/ops.hpp"

namespace shrink::ops {
namespace {

// The tensor seen as [outer, axis, inner], with softmax taken along the middle dimension.
struct SoftmaxLayout {
  int64_t outer = 1;
  int64_t axis = 1;
  int64_t inner = 1;
};

using ColumnsMap = Eigen::Map<Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;
using ConstColumnsMap =
    Eigen::Map<const Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

class Softmax final : public Op {
 public:
  Softmax(int64_t dim, AcrossBatch across_batch) : dim_(dim), across_batch_(across_batch) {}

  std::string type() const override { return "Softmax"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    require(inputs.size() == 1, "Softmax takes 1 input, got " + std::to_string(inputs.size()));
    resolve_dim(inputs[0]);
    return inputs[0];
  }

  void forward(const OpArgs& args, Tensor& output) override {
    const Tensor& x = single_input(type(), args);
    across_batch_.check_inference(args, type());
    if (across_batch_.allowed) output.resize(x.shape());
    require_same_numel(type(), output, "output", x, "input");
    const SoftmaxLayout l = layout(x.shape());
    for_each_slice(l, [&](int64_t o) {
      const int64_t offset = o * l.axis * l.inner;
      const ConstColumnsMap in(x.data() + offset, l.axis, l.inner);
      ColumnsMap out(output.data() + offset, l.axis, l.inner);
      out = (in.rowwise() - in.colwise().maxCoeff()).exp();
      out.rowwise() /= out.colwise().sum();
    });
  }

  // dx = y * (dy - sum_axis(dy * y)).
  void backward(const OpArgs& args, const Tensor& output, const Tensor& grad_output,
                const std::vector<Tensor*>& grad_inputs) override {
    const Tensor& x = single_input(type(), args);
    if (grad_inputs.empty() || grad_inputs[0] == nullptr) return;
    require_same_numel(type(), output, "output", x, "input");
    require_same_numel(type(), grad_output, "output gradient", x, "input");
    Tensor& gx = *grad_inputs[0];
    gx.resize(x.shape());
    const SoftmaxLayout l = layout(x.shape());
    for_each_slice(l, [&](int64_t o) {
      const int64_t offset = o * l.axis * l.inner;
      const ConstColumnsMap y(output.data() + offset, l.axis, l.inner);
      const ConstColumnsMap gy(grad_output.data() + offset, l.axis, l.inner);
      ColumnsMap g(gx.data() + offset, l.axis, l.inner);
      g = y * (gy.rowwise() - (gy * y).colwise().sum());
    });
  }

  Json attributes() const override {
    Json j{{"dim", dim_}};
    across_batch_.write(j);
    return j;
  }

 private:
  size_t resolve_dim(const Shape& shape) const {
    const int64_t dim =
        normalize_axis(type(), "dim", dim_, static_cast<int64_t>(shape.size()), shape);
    require(dim != 0 || across_batch_.allowed, "Softmax: dim " + std::to_string(dim_) + " is the batch axis of input " +
                          to_string(shape) + "; normalise over a feature axis (>= 1)");
    return static_cast<size_t>(dim);
  }

  SoftmaxLayout layout(const Shape& shape) const {
    const size_t dim = resolve_dim(shape);
    SoftmaxLayout l;
    for (size_t d = 0; d < dim; ++d) l.outer *= shape[d];
    l.axis = shape[dim];
    for (size_t d = dim + 1; d < shape.size(); ++d) l.inner *= shape[d];
    return l;
  }

  template <class Body>
  static void for_each_slice(const SoftmaxLayout& l, const Body& body) {
    if (l.axis == 0) return;
#pragma omp parallel for schedule(static) if (l.outer * l.axis * l.inner > kParallelElements)
    for (int64_t o = 0; o < l.outer; ++o) body(o);
  }

  int64_t dim_;
  AcrossBatch across_batch_;
};

}  // namespace

std::unique_ptr<Op> make_softmax(const Json& attributes) {
  reject_unknown_attributes("Softmax", attributes, {"dim", "across_batch"});
  return std::make_unique<Softmax>(attributes.value("dim", int64_t{1}),
                                 AcrossBatch::read(attributes, "Softmax"));
}

}  // namespace shrink::ops
