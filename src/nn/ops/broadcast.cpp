#include "nn/ops/broadcast.hpp"

#include "nn/ops/axes.hpp"
#include "nn/ops/op_support.hpp"

#include <algorithm>

namespace shrink::ops {
namespace {

const char* kind_name(BinaryKind kind) {
  switch (kind) {
    case BinaryKind::Add: return "BroadcastAdd";
    case BinaryKind::Sub: return "Sub";
    case BinaryKind::Mul: return "Mul";
    case BinaryKind::Div: return "Div";
  }
  return "?";
}

// The output iterated as rows of `inner` elements. Output dims of size 1 are dropped and
// neighbouring dims where each operand is either broadcast in both or in neither are merged,
// so [N, C, H, W] against a [C, 1, 1] constant becomes three dims [N, C, H*W].
struct BroadcastPlan {
  std::vector<int64_t> dims;
  std::vector<int64_t> stride_a, stride_b;  // 0 where that operand is broadcast
  int64_t numel = 1;

  int64_t inner() const { return dims.back(); }
  int64_t rows() const { return numel / dims.back(); }

  void row_offsets(int64_t row, int64_t& offset_a, int64_t& offset_b) const {
    offset_a = 0;
    offset_b = 0;
    for (size_t d = dims.size() - 1; d-- > 0;) {
      const int64_t index = row % dims[d];
      row /= dims[d];
      offset_a += index * stride_a[d];
      offset_b += index * stride_b[d];
    }
  }
};

BroadcastPlan plan_broadcast(const Shape& out, const Shape& a, const Shape& b) {
  const size_t rank = out.size();
  auto padded = [&](const Shape& s, size_t d) {
    const size_t lead = rank - s.size();
    return d < lead ? int64_t{1} : s[d - lead];
  };
  struct Dim {
    int64_t size;
    bool a_broadcast, b_broadcast;
  };
  std::vector<Dim> merged;
  for (size_t d = 0; d < rank; ++d) {
    if (out[d] == 1) continue;
    const Dim dim{out[d], padded(a, d) == 1, padded(b, d) == 1};
    if (!merged.empty() && merged.back().a_broadcast == dim.a_broadcast &&
        merged.back().b_broadcast == dim.b_broadcast)
      merged.back().size *= dim.size;
    else
      merged.push_back(dim);
  }
  if (merged.empty()) merged.push_back({1, true, true});

  BroadcastPlan plan;
  plan.dims.resize(merged.size());
  plan.stride_a.resize(merged.size());
  plan.stride_b.resize(merged.size());
  int64_t run_a = 1, run_b = 1;
  for (size_t i = merged.size(); i-- > 0;) {
    plan.dims[i] = merged[i].size;
    plan.stride_a[i] = merged[i].a_broadcast ? 0 : run_a;
    plan.stride_b[i] = merged[i].b_broadcast ? 0 : run_b;
    if (!merged[i].a_broadcast) run_a *= merged[i].size;
    if (!merged[i].b_broadcast) run_b *= merged[i].size;
    plan.numel *= merged[i].size;
  }
  return plan;
}

// out = f(a, b) elementwise over the plan; rows run in parallel for large outputs.
template <class F>
void broadcast_map(const BroadcastPlan& plan, const float* a, const float* b, float* out, F f) {
  const int64_t rows = plan.rows();
  const int64_t inner = plan.inner();
  const int64_t sa = plan.stride_a.back();
  const int64_t sb = plan.stride_b.back();
#pragma omp parallel for schedule(static) if (plan.numel > kParallelElements)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t oa, ob;
    plan.row_offsets(r, oa, ob);
    const float* pa = a + oa;
    const float* pb = b + ob;
    float* po = out + r * inner;
    // Constant strides let the compiler vectorise each of the four cases.
    if (sa && sb)
      for (int64_t j = 0; j < inner; ++j) po[j] = f(pa[j], pb[j]);
    else if (sa)
      for (int64_t j = 0; j < inner; ++j) po[j] = f(pa[j], pb[0]);
    else if (sb)
      for (int64_t j = 0; j < inner; ++j) po[j] = f(pa[0], pb[j]);
    else
      for (int64_t j = 0; j < inner; ++j) po[j] = f(pa[0], pb[0]);
  }
}

// grad[operand] += d(g, a, b) summed over the axes along which that operand was broadcast.
// `grad` must be zeroed and have the operand's element count. Serial: broadcast operands
// receive sums from many rows.
template <class D>
void broadcast_reduce(const BroadcastPlan& plan, const float* a, const float* b, const float* g,
                      float* grad, bool for_a, D d) {
  const int64_t rows = plan.rows();
  const int64_t inner = plan.inner();
  const int64_t sa = plan.stride_a.back();
  const int64_t sb = plan.stride_b.back();
  const int64_t s_own = for_a ? sa : sb;
  for (int64_t r = 0; r < rows; ++r) {
    int64_t oa, ob;
    plan.row_offsets(r, oa, ob);
    const float* pg = g + r * inner;
    float* target = grad + (for_a ? oa : ob);
    if (s_own) {
      for (int64_t j = 0; j < inner; ++j)
        target[j] += d(pg[j], a[oa + j * sa], b[ob + j * sb]);
    } else {
      double sum = 0.0;
      for (int64_t j = 0; j < inner; ++j) sum += d(pg[j], a[oa + j * sa], b[ob + j * sb]);
      target[0] += static_cast<float>(sum);
    }
  }
}

class BroadcastBinary final : public Op {
 public:
  BroadcastBinary(BinaryKind kind, bool has_constant, Shape constant_shape, bool constant_first,
                  bool trainable)
      : kind_(kind),
        has_constant_(has_constant),
        constant_shape_(std::move(constant_shape)),
        constant_first_(constant_first),
        trainable_(trainable) {}

  std::string type() const override { return kind_name(kind_); }
  int arity() const override { return has_constant_ ? 1 : 2; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    const std::string op = type();
    if (has_constant_) {
      require(inputs.size() == 1, op + " with a constant operand takes 1 input, got " +
                                      std::to_string(inputs.size()));
      const Shape& x = inputs[0];
      require(!x.empty(), op + " needs a batch-first input [N, ...], got a scalar shape []");
      // The constant must not reach the batch axis: a rank-equal constant is allowed only
      // with size 1 there, so the op means the same for every batch size.
      require(constant_shape_.size() < x.size() ||
                  (constant_shape_.size() == x.size() && constant_shape_[0] == 1),
              op + ": constant of shape " + to_string(constant_shape_) +
                  " would broadcast over the batch axis of input " + to_string(x) +
                  "; give it a rank below the input's or a leading 1");
      return constant_first_ ? broadcast_shapes(op, constant_shape_, x)
                             : broadcast_shapes(op, x, constant_shape_);
    }
    require(inputs.size() == 2, op + " takes 2 inputs, got " + std::to_string(inputs.size()));
    const Shape& a = inputs[0];
    const Shape& b = inputs[1];
    require(!a.empty() && !b.empty(),
            op + " needs batch-first inputs [N, ...], got " + shapes_to_string(inputs));
    // Both values are batch-first; numpy's right alignment of different ranks would pair one
    // input's batch axis with a feature axis of the other.
    require(a.size() == b.size(),
            op + ": inputs " + to_string(a) + " and " + to_string(b) +
                " have different ranks; both are batch-first, so unsqueeze the smaller one to "
                "the same rank before broadcasting");
    require(a[0] == b[0], op + ": inputs " + to_string(a) + " and " + to_string(b) +
                              " have different batch sizes");
    return broadcast_shapes(op, a, b);
  }

  std::vector<ParameterSpec> parameter_specs(const std::vector<Shape>& inputs) const override {
    (void)inputs;
    if (!has_constant_) return {};
    ParameterSpec spec;
    spec.suffix = "constant";
    spec.shape = constant_shape_;
    // Neutral element, so a model built from scratch starts as the identity.
    spec.init = kind_ == BinaryKind::Mul || kind_ == BinaryKind::Div ? Init::Ones : Init::Zeros;
    spec.trainable = trainable_;
    return {spec};
  }

  void forward(const OpArgs& args, Tensor& output) override {
    const Operands o = operands(args);
    const Shape out_shape = broadcast_shapes(type(), o.a->shape(), o.b->shape());
    if (element_count(out_shape) != output.numel())
      throw Error::internal(type() + ": output of shape " + to_string(output.shape()) +
                            " does not match the broadcast shape " + to_string(out_shape));
    const BroadcastPlan plan = plan_broadcast(out_shape, o.a->shape(), o.b->shape());
    const float* a = o.a->data();
    const float* b = o.b->data();
    float* y = output.data();
    switch (kind_) {
      case BinaryKind::Add: broadcast_map(plan, a, b, y, [](float u, float v) { return u + v; }); break;
      case BinaryKind::Sub: broadcast_map(plan, a, b, y, [](float u, float v) { return u - v; }); break;
      case BinaryKind::Mul: broadcast_map(plan, a, b, y, [](float u, float v) { return u * v; }); break;
      case BinaryKind::Div: broadcast_map(plan, a, b, y, [](float u, float v) { return u / v; }); break;
    }
  }

  void backward(const OpArgs& args, const Tensor& output, const Tensor& grad_output,
                const std::vector<Tensor*>& grad_inputs) override {
    (void)output;
    const Operands o = operands(args);
    const Shape out_shape = broadcast_shapes(type(), o.a->shape(), o.b->shape());
    if (element_count(out_shape) != grad_output.numel())
      throw Error::internal(type() + ": output gradient of shape " +
                            to_string(grad_output.shape()) + " does not match the broadcast shape " +
                            to_string(out_shape));
    // Which gradient goes where: the dynamic input's to grad_inputs[0] (or [1]), the
    // constant's is added into its parameter's grad.
    Tensor* grad_of_input0 = grad_inputs.size() > 0 ? grad_inputs[0] : nullptr;
    Tensor* grad_of_input1 = grad_inputs.size() > 1 ? grad_inputs[1] : nullptr;
    Tensor constant_grad;
    Tensor* target_a = nullptr;
    Tensor* target_b = nullptr;
    if (has_constant_) {
      Tensor* constant_target = o.constant->trainable ? &constant_grad : nullptr;
      target_a = constant_first_ ? constant_target : grad_of_input0;
      target_b = constant_first_ ? grad_of_input0 : constant_target;
    } else {
      target_a = grad_of_input0;
      target_b = grad_of_input1;
    }

    const BroadcastPlan plan = plan_broadcast(out_shape, o.a->shape(), o.b->shape());
    const float* a = o.a->data();
    const float* b = o.b->data();
    const float* g = grad_output.data();
    auto reduce_into = [&](Tensor* target, const Tensor& operand, bool for_a) {
      if (target == nullptr) return;
      target->resize(operand.shape());
      target->zero();
      float* t = target->data();
      switch (kind_) {
        case BinaryKind::Add:
          broadcast_reduce(plan, a, b, g, t, for_a, [](float gy, float, float) { return gy; });
          break;
        case BinaryKind::Sub:
          if (for_a)
            broadcast_reduce(plan, a, b, g, t, true, [](float gy, float, float) { return gy; });
          else
            broadcast_reduce(plan, a, b, g, t, false, [](float gy, float, float) { return -gy; });
          break;
        case BinaryKind::Mul:
          if (for_a)
            broadcast_reduce(plan, a, b, g, t, true, [](float gy, float, float v) { return gy * v; });
          else
            broadcast_reduce(plan, a, b, g, t, false, [](float gy, float u, float) { return gy * u; });
          break;
        case BinaryKind::Div:
          if (for_a)
            broadcast_reduce(plan, a, b, g, t, true, [](float gy, float, float v) { return gy / v; });
          else
            broadcast_reduce(plan, a, b, g, t, false,
                             [](float gy, float u, float v) { return -gy * u / (v * v); });
          break;
      }
    };
    reduce_into(target_a, *o.a, true);
    reduce_into(target_b, *o.b, false);

    if (has_constant_ && o.constant->trainable) {
      Parameter& p = *o.constant;
      if (p.grad.shape() != p.value.shape()) p.grad = Tensor(p.value.shape());
      p.grad.flat() += constant_grad.flat();
    }
  }

  nlohmann::json attributes() const override {
    if (!has_constant_) return nlohmann::json::object();
    return {{"constant_shape", constant_shape_},
            {"constant_first", constant_first_},
            {"trainable", trainable_}};
  }

 private:
  struct Operands {
    const Tensor* a = nullptr;
    const Tensor* b = nullptr;
    Parameter* constant = nullptr;
  };
  Operands operands(const OpArgs& args) const {
    Operands o;
    if (has_constant_) {
      if (args.inputs.size() != 1 || args.inputs[0] == nullptr || args.params.size() != 1 ||
          args.params[0] == nullptr)
        throw Error::internal(type() + " with a constant was run with " +
                              std::to_string(args.inputs.size()) + " inputs and " +
                              std::to_string(args.params.size()) +
                              " parameters, expected 1 and 1");
      o.constant = args.params[0];
      const Tensor& c = o.constant->value;
      if (c.shape() != constant_shape_)
        throw Error::bad_input(type() + ": constant parameter " + o.constant->name + " has shape " +
                               to_string(c.shape()) + ", expected " + to_string(constant_shape_));
      o.a = constant_first_ ? &c : args.inputs[0];
      o.b = constant_first_ ? args.inputs[0] : &c;
    } else {
      if (args.inputs.size() != 2 || args.inputs[0] == nullptr || args.inputs[1] == nullptr)
        throw Error::internal(type() + " was run with " + std::to_string(args.inputs.size()) +
                              " inputs, expected 2");
      o.a = args.inputs[0];
      o.b = args.inputs[1];
    }
    return o;
  }

  BinaryKind kind_;
  bool has_constant_;
  Shape constant_shape_;
  bool constant_first_;
  bool trainable_;
};

}  // namespace
}  // namespace shrink::ops

namespace shrink::ops {

Shape broadcast_shapes(const std::string& op, const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    // i counts from the right.
    const int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    const int64_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    require(da == db || da == 1 || db == 1,
            op + ": cannot broadcast shapes " + to_string(a) + " and " + to_string(b) +
                " (numpy rules: aligned from the right, each pair of dimensions must be equal "
                "or 1; they differ at " + std::to_string(da) + " vs " + std::to_string(db) + ")");
    out[rank - 1 - i] = da == 1 ? db : da;
  }
  return out;
}

std::unique_ptr<Op> make_broadcast_binary(BinaryKind kind, const nlohmann::json& attributes) {
  const std::string op = kind_name(kind);
  reject_unknown_attributes(op, attributes, {"constant_shape", "constant_first", "trainable"});
  const bool has_constant = attributes.contains("constant_shape");
  require(has_constant || (!attributes.contains("constant_first") && !attributes.contains("trainable")),
          op + ": constant_first and trainable need constant_shape (the constant form)");
  Shape constant_shape;
  if (has_constant) {
    constant_shape = json_ints(attributes, "constant_shape");
    for (int64_t d : constant_shape)
      require(d > 0, op + ": constant_shape " + to_string(constant_shape) +
                         " has a non-positive dimension");
  }
  return std::make_unique<BroadcastBinary>(kind, has_constant, std::move(constant_shape),
                                           json_flag(attributes, "constant_first", false),
                                           json_flag(attributes, "trainable", false));
}

}  // namespace shrink::ops
