// MatMul (ONNX) in two forms:
//   {"in_features": K, "out_features": M}: x [N, ..., K] times the parameter "<node>.weight"
//     [K, M] (ONNX's layout, the transpose of Linear's) -> [N, ..., M]; no bias (the importer
//     fuses MatMul + Add into Linear when it can).
//   {}: two dynamic inputs, a batched product [N, ..., P, K] x [N, ..., K, Q] -> [N, ..., P, Q]
//     with identical leading dims (no broadcasting between them).
#include "nn/kernels/attributes.hpp"
#include "nn/ops/axes.hpp"
#include "nn/ops/op_support.hpp"
#include "nn/ops/ops.hpp"

namespace shrink::ops {
namespace {

class MatMul final : public Op {
 public:
  MatMul(int64_t in_features, int64_t out_features)
      : in_features_(in_features), out_features_(out_features) {}

  std::string type() const override { return "MatMul"; }
  int arity() const override { return has_weight() ? 1 : 2; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    if (has_weight()) {
      require(inputs.size() == 1, "MatMul with a weight takes 1 input, got " +
                                      std::to_string(inputs.size()));
      const Shape& x = inputs[0];
      require(x.size() >= 2 && x.back() == in_features_,
              "MatMul: input " + to_string(x) + " must be [N, ..., " +
                  std::to_string(in_features_) + "] to multiply the weight [" +
                  std::to_string(in_features_) + ", " + std::to_string(out_features_) + "]");
      Shape out = x;
      out.back() = out_features_;
      return out;
    }
    require(inputs.size() == 2, "MatMul takes 2 inputs, got " + std::to_string(inputs.size()));
    const Shape& a = inputs[0];
    const Shape& b = inputs[1];
    const std::string both = to_string(a) + " and " + to_string(b);
    require(a.size() >= 3 && b.size() >= 3,
            "MatMul of two dynamic inputs needs batch-first matrices [N, ..., rows, cols], got " +
                both + " (a rank-2 product would mix samples of the batch)");
    require(a.size() == b.size() && std::equal(a.begin(), a.end() - 2, b.begin()),
            "MatMul: inputs " + both +
                " must have the same leading dims (broadcasting between two dynamic inputs is "
                "not supported)");
    require(a.back() == b[b.size() - 2],
            "MatMul: inner dimensions of " + both + " differ (" + std::to_string(a.back()) +
                " vs " + std::to_string(b[b.size() - 2]) + ")");
    Shape out = a;
    out.back() = b.back();
    return out;
  }

  std::vector<ParameterSpec> parameter_specs(const std::vector<Shape>& inputs) const override {
    (void)inputs;
    if (!has_weight()) return {};
    ParameterSpec weight;
    weight.suffix = "weight";
    weight.shape = {in_features_, out_features_};
    weight.init = Init::KaimingUniform;
    weight.fan_in = in_features_;
    return {weight};
  }

  void forward(const OpArgs& args, Tensor& output) override {
    const Operands o = operands(args);
    if (element_count(output_shape(o.shapes)) != output.numel())
      throw Error::internal("MatMul: output of shape " + to_string(output.shape()) +
                            " does not match the inputs " + shapes_to_string(o.shapes));
    const int64_t k = o.cols_a;
    const int64_t m = o.cols_b;
    if (has_weight()) {
      const int64_t rows = o.a->numel() / k;
      const ConstMatrixMap w = o.b->matrix(k, m);
      for_each_row_block(rows, k * m, [&](int64_t begin, int64_t count) {
        MatrixMap(output.data() + begin * m, count, m).noalias() =
            ConstMatrixMap(o.a->data() + begin * k, count, k) * w;
      });
      return;
    }
    const int64_t p = o.rows_a;
    for_each_matrix(o.matrices, p * k * m, [&](int64_t i) {
      MatrixMap(output.data() + i * p * m, p, m).noalias() =
          ConstMatrixMap(o.a->data() + i * p * k, p, k) *
          ConstMatrixMap(o.b->data() + i * k * m, k, m);
    });
  }

  void backward(const OpArgs& args, const Tensor& output, const Tensor& grad_output,
                const std::vector<Tensor*>& grad_inputs) override {
    (void)output;
    const Operands o = operands(args);
    if (element_count(output_shape(o.shapes)) != grad_output.numel())
      throw Error::internal("MatMul: output gradient of shape " + to_string(grad_output.shape()) +
                            " does not match the inputs " + shapes_to_string(o.shapes));
    const int64_t k = o.cols_a;
    const int64_t m = o.cols_b;
    Tensor* ga = grad_inputs.size() > 0 ? grad_inputs[0] : nullptr;
    if (has_weight()) {
      const int64_t rows = o.a->numel() / k;
      const ConstMatrixMap w = o.b->matrix(k, m);
      const ConstMatrixMap gy = grad_output.matrix(rows, m);
      if (ga != nullptr) {
        ga->resize(o.a->shape());
        for_each_row_block(rows, k * m, [&](int64_t begin, int64_t count) {
          MatrixMap(ga->data() + begin * k, count, k).noalias() =
              ConstMatrixMap(grad_output.data() + begin * m, count, m) * w.transpose();
        });
      }
      Parameter& weight = *args.params[0];
      if (weight.trainable) {
        if (weight.grad.shape() != weight.value.shape()) weight.grad = Tensor(weight.value.shape());
        weight.grad.matrix(k, m).noalias() += o.a->matrix(rows, k).transpose() * gy;
      }
      return;
    }
    Tensor* gb = grad_inputs.size() > 1 ? grad_inputs[1] : nullptr;
    const int64_t p = o.rows_a;
    if (ga != nullptr) ga->resize(o.a->shape());
    if (gb != nullptr) gb->resize(o.b->shape());
    for_each_matrix(o.matrices, p * k * m, [&](int64_t i) {
      const ConstMatrixMap gy(grad_output.data() + i * p * m, p, m);
      if (ga != nullptr)
        MatrixMap(ga->data() + i * p * k, p, k).noalias() =
            gy * ConstMatrixMap(o.b->data() + i * k * m, k, m).transpose();
      if (gb != nullptr)
        MatrixMap(gb->data() + i * k * m, k, m).noalias() =
            ConstMatrixMap(o.a->data() + i * p * k, p, k).transpose() * gy;
    });
  }

  int64_t macs(const std::vector<Shape>& inputs) const override {
    const Shape out = output_shape(inputs);
    return element_count(out) * inputs[0].back();
  }

  Json attributes() const override {
    if (!has_weight()) return Json::object();
    return {{"in_features", in_features_}, {"out_features", out_features_}};
  }

 private:
  bool has_weight() const { return out_features_ > 0; }

  // a is [.., rows_a, cols_a], b is [.., cols_a, cols_b] (the weight in the weight form).
  struct Operands {
    const Tensor* a = nullptr;
    const Tensor* b = nullptr;
    std::vector<Shape> shapes;
    int64_t matrices = 1, rows_a = 1, cols_a = 1, cols_b = 1;
  };

  Operands operands(const OpArgs& args) const {
    Operands o;
    if (has_weight()) {
      if (args.inputs.size() != 1 || args.inputs[0] == nullptr || args.params.size() != 1 ||
          args.params[0] == nullptr)
        throw Error::internal("MatMul with a weight was run with " +
                              std::to_string(args.inputs.size()) + " inputs and " +
                              std::to_string(args.params.size()) + " parameters, expected 1 and 1");
      o.a = args.inputs[0];
      o.b = &args.params[0]->effective();
      require(o.b->shape() == Shape{in_features_, out_features_},
              "MatMul: weight " + args.params[0]->name + " has shape " + to_string(o.b->shape()) +
                  ", expected [" + std::to_string(in_features_) + ", " +
                  std::to_string(out_features_) + "]");
      o.shapes = {o.a->shape()};
    } else {
      if (args.inputs.size() != 2 || args.inputs[0] == nullptr || args.inputs[1] == nullptr)
        throw Error::internal("MatMul was run with " + std::to_string(args.inputs.size()) +
                              " inputs, expected 2");
      o.a = args.inputs[0];
      o.b = args.inputs[1];
      o.shapes = {o.a->shape(), o.b->shape()};
    }
    output_shape(o.shapes);
    const Shape& a = o.a->shape();
    const Shape& b = o.b->shape();
    o.rows_a = a[a.size() - 2];
    o.cols_a = a.back();
    o.cols_b = b.back();
    o.matrices = o.rows_a * o.cols_a == 0 ? 0 : o.a->numel() / (o.rows_a * o.cols_a);
    return o;
  }

  // Row blocks of the weight form's product, in parallel when the product is large.
  template <class Body>
  static void for_each_row_block(int64_t rows, int64_t work_per_row, const Body& body) {
    constexpr int64_t kRows = 64;
    const int64_t blocks = (rows + kRows - 1) / kRows;
#pragma omp parallel for schedule(static) if (rows * work_per_row > kParallelElements * 16)
    for (int64_t b = 0; b < blocks; ++b) body(b * kRows, std::min(kRows, rows - b * kRows));
  }

  template <class Body>
  static void for_each_matrix(int64_t matrices, int64_t work_per_matrix, const Body& body) {
#pragma omp parallel for schedule(static) if (matrices * work_per_matrix > kParallelElements * 16)
    for (int64_t i = 0; i < matrices; ++i) body(i);
  }

  int64_t in_features_;
  int64_t out_features_;  // 0 in the two-input form
};

}  // namespace

std::unique_ptr<Op> make_matmul(const Json& attributes) {
  reject_unknown_attributes("MatMul", attributes, {"in_features", "out_features"});
  const bool has_in = attributes.contains("in_features");
  const bool has_out = attributes.contains("out_features");
  require(has_in == has_out,
          "MatMul: give both in_features and out_features (the weight form) or neither (two "
          "dynamic inputs)");
  if (!has_in) return std::make_unique<MatMul>(0, 0);
  const int64_t in = kernels::read_int(attributes, "MatMul", "in_features", std::nullopt, 1);
  const int64_t out = kernels::read_int(attributes, "MatMul", "out_features", std::nullopt, 1);
  return std::make_unique<MatMul>(in, out);
}

}  // namespace shrink::ops
