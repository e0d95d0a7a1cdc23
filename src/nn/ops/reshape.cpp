// Reshape (ONNX): "shape" lists the output dims including the batch position; 0 copies the
// input's dim at that position (unless "allowzero"), -1 (at most one) is inferred. The batch
// axis must stay axis 0 with the same size, so write 0 (or -1) at the batch position; a
// literal equal to the build-time batch (1 for a Model) is also accepted, the Model sizing
// axis 0 with the batch it runs. "across_batch" lifts that rule (an ONNX Flatten at an axis
// other than 1; inference only, see across_batch.hpp).
#include "nn/ops/across_batch.hpp"
#include "nn/ops/axes.hpp"
#include "nn/ops/op_support.hpp"
#include "nn/ops/ops.hpp"

namespace shrink::ops {
namespace {

class Reshape final : public Op {
 public:
  Reshape(std::vector<int64_t> shape, bool allow_zero, AcrossBatch across_batch)
      : shape_(std::move(shape)), allow_zero_(allow_zero), across_batch_(across_batch) {}

  std::string type() const override { return "Reshape"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    require(inputs.size() == 1, "Reshape takes 1 input, got " + std::to_string(inputs.size()));
    const Shape& x = inputs[0];
    require(!x.empty(), "Reshape needs a batch-first input [N, ...], got a scalar shape []");
    const std::string context = "Reshape: input " + to_string(x) + " to shape " + to_string(shape_);
    Shape out(shape_.size());
    int64_t infer_at = -1;
    int64_t known = 1;
    for (size_t i = 0; i < shape_.size(); ++i) {
      const int64_t d = shape_[i];
      if (d == -1) {
        require(infer_at < 0, context + ": more than one -1");
        infer_at = static_cast<int64_t>(i);
        continue;
      }
      require(d >= 0, context + ": dimension " + std::to_string(d) + " is invalid (use -1 to infer)");
      if (d == 0 && !allow_zero_) {
        require(i < x.size(), context + ": 0 at position " + std::to_string(i) +
                                  " has no input dimension to copy");
        out[i] = x[i];
      } else {
        out[i] = d;
      }
      known *= out[i];
    }
    const int64_t total = element_count(x);
    if (infer_at >= 0) {
      require(known > 0 && total % known == 0,
              context + ": " + std::to_string(total) + " elements cannot fill the -1");
      out[static_cast<size_t>(infer_at)] = total / known;
    }
    require(element_count(out) == total, context + ": size mismatch, the input has " +
                                             std::to_string(total) + " elements and " +
                                             to_string(out) + " holds " +
                                             std::to_string(element_count(out)));
    require(out[0] == x[0] || across_batch_.allowed,
            context + " gives " + to_string(out) +
                ", which moves or merges the batch axis 0; keep the batch size first "
                "(write 0 at the batch position)");
    return out;
  }

  void forward(const OpArgs& args, Tensor& output) override {
    const Tensor& x = single_input(type(), args);
    across_batch_.check_inference(args, type());
    if (across_batch_.allowed) output.resize(output_shape({x.shape()}));
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

  Json attributes() const override {
    Json j{{"shape", shape_}, {"allowzero", allow_zero_}};
    across_batch_.write(j);
    return j;
  }

 private:
  std::vector<int64_t> shape_;
  bool allow_zero_;
  AcrossBatch across_batch_;
};

}  // namespace

std::unique_ptr<Op> make_reshape(const Json& attributes) {
  reject_unknown_attributes("Reshape", attributes, {"shape", "allowzero", "across_batch"});
  require(attributes.contains("shape"), "Reshape needs the attribute 'shape'");
  std::vector<int64_t> shape = json_ints(attributes, "shape");
  require(!shape.empty(), "Reshape: shape [] would drop the batch axis");
  return std::make_unique<Reshape>(std::move(shape), json_flag(attributes, "allowzero", false),
                                   AcrossBatch::read(attributes, "Reshape"));
}

}  // namespace shrink::ops
