// Concat (ONNX): joins any number of inputs along "axis" (negative counts from the end); all
// other dims must agree. Joining along the batch axis 0 would mix samples and is an error unless
// "across_batch" allows it (inference only; see across_batch.hpp).
#include "nn/kernels/attributes.hpp"
#include "nn/ops/across_batch.hpp"
#include "nn/ops/axes.hpp"
#include "nn/ops/op_support.hpp"
#include "nn/ops/ops.hpp"

#include <cstring>
#include <limits>

namespace shrink::ops {
namespace {

class Concat final : public Op {
 public:
  Concat(int64_t axis, AcrossBatch across_batch) : axis_(axis), across_batch_(across_batch) {}

  std::string type() const override { return "Concat"; }
  int arity() const override { return -1; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    require(!inputs.empty(), "Concat takes at least 1 input, got 0");
    const Shape& first = inputs[0];
    require(!first.empty(), "Concat needs batch-first inputs [N, ...], got a scalar shape []");
    const int64_t axis = resolve(first);
    Shape out = first;
    for (size_t i = 1; i < inputs.size(); ++i) {
      const Shape& s = inputs[i];
      bool fits = s.size() == first.size();
      for (size_t d = 0; fits && d < s.size(); ++d)
        fits = static_cast<int64_t>(d) == axis || s[d] == first[d];
      require(fits, "Concat along axis " + std::to_string(axis_) + ": input " +
                        std::to_string(i) + " of shape " + to_string(s) +
                        " does not match input 0 of shape " + to_string(first) +
                        " outside the concatenation axis (inputs: " + shapes_to_string(inputs) + ")");
      out[static_cast<size_t>(axis)] += s[static_cast<size_t>(axis)];
    }
    return out;
  }

  void forward(const OpArgs& args, Tensor& output) override {
    across_batch_.check_inference(args, "Concat");
    const std::vector<Shape> shapes = input_shapes(args);
    const Shape out_shape = output_shape(shapes);
    if (across_batch_.allowed) output.resize(out_shape);
    if (element_count(out_shape) != output.numel())
      throw Error::internal("Concat: output of shape " + to_string(output.shape()) +
                            " does not match " + to_string(out_shape));
    const Layout l = layout(shapes);
    int64_t column = 0;
    for (size_t i = 0; i < args.inputs.size(); ++i) {
      const int64_t width = l.widths[i];
      const float* src = args.inputs[i]->data();
      for (int64_t o = 0; o < l.outer; ++o)
        std::memcpy(output.data() + o * l.total + column, src + o * width,
                    static_cast<size_t>(width) * sizeof(float));
      column += width;
    }
  }

  void backward(const OpArgs& args, const Tensor& output, const Tensor& grad_output,
                const std::vector<Tensor*>& grad_inputs) override {
    (void)output;
    const std::vector<Shape> shapes = input_shapes(args);
    if (element_count(output_shape(shapes)) != grad_output.numel())
      throw Error::internal("Concat: output gradient of shape " + to_string(grad_output.shape()) +
                            " does not match the inputs " + shapes_to_string(shapes));
    const Layout l = layout(shapes);
    int64_t column = 0;
    for (size_t i = 0; i < args.inputs.size(); ++i) {
      const int64_t width = l.widths[i];
      if (i < grad_inputs.size() && grad_inputs[i] != nullptr) {
        Tensor& g = *grad_inputs[i];
        g.resize(shapes[i]);
        for (int64_t o = 0; o < l.outer; ++o)
          std::memcpy(g.data() + o * width, grad_output.data() + o * l.total + column,
                      static_cast<size_t>(width) * sizeof(float));
      }
      column += width;
    }
  }

  Json attributes() const override {
    Json j{{"axis", axis_}};
    across_batch_.write(j);
    return j;
  }

 private:
  // Each input seen as [outer, width]: outer = product of dims before the axis.
  struct Layout {
    int64_t outer = 1;
    std::vector<int64_t> widths;
    int64_t total = 0;
  };

  int64_t resolve(const Shape& shape) const {
    const int64_t axis =
        normalize_axis("Concat", "axis", axis_, static_cast<int64_t>(shape.size()), shape);
    require(axis != 0 || across_batch_.allowed,
            "Concat: axis " + std::to_string(axis_) + " is the batch axis of input " +
                to_string(shape) + "; concatenate along a feature axis (>= 1)");
    return axis;
  }

  Layout layout(const std::vector<Shape>& shapes) const {
    const size_t axis = static_cast<size_t>(resolve(shapes[0]));
    Layout l;
    for (size_t d = 0; d < axis; ++d) l.outer *= shapes[0][d];
    for (const Shape& s : shapes) {
      l.widths.push_back(l.outer == 0 ? 0 : element_count(s) / l.outer);
      l.total += l.widths.back();
    }
    return l;
  }

  static std::vector<Shape> input_shapes(const OpArgs& args) {
    std::vector<Shape> shapes;
    for (const Tensor* t : args.inputs) {
      if (t == nullptr) throw Error::internal("Concat was run with a missing input");
      shapes.push_back(t->shape());
    }
    return shapes;
  }

  int64_t axis_;
  AcrossBatch across_batch_;
};

}  // namespace

std::unique_ptr<Op> make_concat(const Json& attributes) {
  reject_unknown_attributes("Concat", attributes, {"axis", "across_batch"});
  const int64_t axis =
      kernels::read_int(attributes, "Concat", "axis", std::nullopt, std::numeric_limits<int64_t>::min());
  return std::make_unique<Concat>(axis, AcrossBatch::read(attributes, "Concat"));
}

}  // namespace shrink::ops
