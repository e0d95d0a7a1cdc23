// LogSoftmax along one dimension (ONNX LogSoftmax's axis, default -1 as in opset 13; negative
// counts from the end): y = x - max - log(sum(exp(x - max))), stable for large logits.
// The batch axis 0 is rejected: normalising across samples would make results batch-dependent.
#include "nn/ops/across_batch.hpp"
#include "nn/ops/axes.hpp"
#include "nn/ops/op_support.hpp"
#include "nn/ops/ops.hpp"

namespace shrink::ops {
namespace {

using SliceMap = Eigen::Map<Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;
using ConstSliceMap =
    Eigen::Map<const Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

class LogSoftmax final : public Op {
 public:
  LogSoftmax(int64_t dim, AcrossBatch across_batch) : dim_(dim), across_batch_(across_batch) {}

  std::string type() const override { return "LogSoftmax"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    const Shape& x = same_shape_output(type(), inputs);
    resolve_dim(x);
    return x;
  }

  void forward(const OpArgs& args, Tensor& output) override {
    const Tensor& x = single_input(type(), args);
    across_batch_.check_inference(args, type());
    if (across_batch_.allowed) output.resize(x.shape());
    require_same_numel(type(), output, "output", x, "input");
    const Layout l = layout(x.shape());
    for_each_slice(l, [&](int64_t o) {
      const int64_t offset = o * l.axis * l.inner;
      const ConstSliceMap in(x.data() + offset, l.axis, l.inner);
      SliceMap out(output.data() + offset, l.axis, l.inner);
      out = in.rowwise() - in.colwise().maxCoeff();
      // Evaluated before subtracting: the expression reads `out` itself.
      const Eigen::Array<float, 1, Eigen::Dynamic> log_sum = out.exp().colwise().sum().log();
      out.rowwise() -= log_sum;
    });
  }

  // dx = dy - softmax * sum_axis(dy), with softmax = exp(y).
  void backward(const OpArgs& args, const Tensor& output, const Tensor& grad_output,
                const std::vector<Tensor*>& grad_inputs) override {
    const Tensor& x = single_input(type(), args);
    if (grad_inputs.empty() || grad_inputs[0] == nullptr) return;
    require_same_numel(type(), output, "output", x, "input");
    require_same_numel(type(), grad_output, "output gradient", x, "input");
    Tensor& gx = *grad_inputs[0];
    gx.resize(x.shape());
    const Layout l = layout(x.shape());
    for_each_slice(l, [&](int64_t o) {
      const int64_t offset = o * l.axis * l.inner;
      const ConstSliceMap y(output.data() + offset, l.axis, l.inner);
      const ConstSliceMap gy(grad_output.data() + offset, l.axis, l.inner);
      SliceMap g(gx.data() + offset, l.axis, l.inner);
      const Eigen::Array<float, 1, Eigen::Dynamic> sum = gy.colwise().sum();
      g = gy - y.exp().rowwise() * sum;
    });
  }

  Json attributes() const override {
    Json j{{"dim", dim_}};
    across_batch_.write(j);
    return j;
  }

 private:
  // The tensor seen as [outer, axis, inner].
  struct Layout {
    int64_t outer = 1, axis = 1, inner = 1;
  };

  size_t resolve_dim(const Shape& shape) const {
    const int64_t dim =
        normalize_axis(type(), "dim", dim_, static_cast<int64_t>(shape.size()), shape);
    require(dim != 0 || across_batch_.allowed, "LogSoftmax: dim " + std::to_string(dim_) + " is the batch axis of input " +
                          to_string(shape) + "; normalise over a feature axis (>= 1)");
    return static_cast<size_t>(dim);
  }

  Layout layout(const Shape& shape) const {
    const size_t dim = resolve_dim(shape);
    Layout l;
    for (size_t d = 0; d < dim; ++d) l.outer *= shape[d];
    l.axis = shape[dim];
    for (size_t d = dim + 1; d < shape.size(); ++d) l.inner *= shape[d];
    return l;
  }

  template <class Body>
  static void for_each_slice(const Layout& l, const Body& body) {
    if (l.axis == 0) return;
#pragma omp parallel for schedule(static) if (l.outer * l.axis * l.inner > kParallelElements)
    for (int64_t o = 0; o < l.outer; ++o) body(o);
  }

  int64_t dim_;
  AcrossBatch across_batch_;
};

}  // namespace

std::unique_ptr<Op> make_log_softmax(const Json& attributes) {
  reject_unknown_attributes("LogSoftmax", attributes, {"dim", "across_batch"});
  return std::make_unique<LogSoftmax>(attributes.value("dim", int64_t{-1}),
                                 AcrossBatch::read(attributes, "LogSoftmax"));
}

}  // namespace shrink::ops
