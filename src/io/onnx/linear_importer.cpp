// Gemm and MatMul: a constant right-hand side becomes a Linear (MatMul + Add a Linear with bias,
// see Importer::try_fuse_bias) or a MatMul with a weight; two activations a MatMul of both.
#include "io/onnx/op_importers.hpp"
#include "shrink/core/error.hpp"

namespace shrink::onnx_io {
namespace {

// Transposes a 2-D tensor.
Tensor transposed(const Tensor& t) {
  Tensor out({t.dim(1), t.dim(0)});
  out.matrix(t.dim(1), t.dim(0)) = t.matrix(t.dim(0), t.dim(1)).transpose();
  return out;
}

void gemm(Importer& im, const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({"alpha", "beta", "transA", "transB"});
  const float alpha = attrs.get_float("alpha", 1.0f);
  const float beta = attrs.get_float("beta", 1.0f);
  const bool trans_a = attrs.get_int("transA", 0) != 0;
  const bool trans_b = attrs.get_int("transB", 0) != 0;
  if (!im.is_dynamic(node, 0))
    throw Error::bad_input("A is a constant; shrink reads Gemm as a layer whose A is the "
                           "activation and whose B holds the weights");
  const Dynamic& a_value = im.dynamic(node.input(0));
  Dynamic a = a_value;
  if (trans_a) {
    if (a_value.perm != std::vector<int64_t>{1, 0})
      throw Error::bad_input("transA=1 would multiply along the batch axis of the batch-first "
                             "input '" + node.input(0) + "'; shrink supports transA=0, and " +
                             "transA=1 only of a Transpose that moved the batch axis");
    a = Dynamic{a_value.source, im.value_shape(a_value.source), {}};
  } else if (!a_value.perm.empty()) {
    a = im.batch_first(node, 0);  // throws: A is a transposed activation
  }
  if (a.sample.size() != 1)
    throw Error::bad_input("A has per-sample shape " + to_string(a.sample) +
                           "; Gemm needs a matrix [batch, K]");
  const Constant& b = im.required_constant(node, 1, "B");
  if (b.shape.size() != 2) throw Error::bad_input("B has shape " + to_string(b.shape) + ", not 2-D");
  Tensor weight = b.to_tensor();
  if (!trans_b) weight = transposed(weight);  // [M, K], the Linear layout
  const int64_t m = weight.dim(0), k = weight.dim(1);
  if (k != a.sample[0])
    throw Error::bad_input("A has " + std::to_string(a.sample[0]) + " features but B expects " +
                           std::to_string(k));
  if (alpha != 1.0f)
    for (float& w : weight) w *= alpha;
  std::vector<std::pair<std::string, Tensor>> params{{"weight", std::move(weight)}};
  const bool has_c = node.input_size() > 2 && !node.input(2).empty();
  if (has_c) {
    const Constant& c = im.required_constant(node, 2, "C");
    const int64_t rows = c.shape.size() == 2 ? c.shape[0] : 1;
    const int64_t cols = c.shape.empty() ? 1 : c.shape.back();
    if (c.shape.size() > 2 || rows != 1 || (cols != 1 && cols != m))
      throw Error::bad_input("C has shape " + to_string(c.shape) + "; shrink supports a bias " +
                             "that broadcasts over the batch ([" + std::to_string(m) + "], [1, " +
                             std::to_string(m) + "] or a scalar)");
    Tensor bias({m});
    for (int64_t j = 0; j < m; ++j)
      bias[j] = static_cast<float>(beta * c.value(cols == 1 ? 0 : j));
    params.emplace_back("bias", std::move(bias));
  }
  im.emit(node, "Linear", {{"out_features", m}, {"bias", has_c}}, {a.source}, std::move(params),
          node.input(1))
      .weight_output_axis = trans_b ? 0 : 1;
}

void matmul(Importer& im, const onnx::NodeProto& node, const Attributes& attrs) {
  attrs.allow_only({});
  if (!im.is_dynamic(node, 0))
    throw Error::bad_input("the first input is a constant; shrink supports MatMul of an "
                           "activation by a constant matrix or by another activation");
  const Dynamic& x = im.batch_first(node, 0);
  if (im.is_dynamic(node, 1)) {
    const Dynamic& y = im.batch_first(node, 1);
    im.emit(node, "MatMul", Json::object(), {x.source, y.source});
    return;
  }
  const Constant& b = im.required_constant(node, 1, "second input");
  if (b.shape.size() != 2)
    throw Error::bad_input("the constant has shape " + to_string(b.shape) + ", not [K, M]");
  if (x.sample.size() == 1) {
    PendingNode& p = im.emit(node, "Linear", {{"out_features", b.shape[1]}, {"bias", false}},
                             {x.source}, {{"weight", transposed(b.to_tensor())}}, node.input(1));
    p.bias_free_matmul = true;
    p.weight_output_axis = 1;  // B is [K, M]
    return;
  }
  im.emit(node, "MatMul", {{"in_features", b.shape[0]}, {"out_features", b.shape[1]}}, {x.source},
          {{"weight", b.to_tensor()}}, node.input(1));
}

}  // namespace

void add_linear_importers(OpImporterTable& table) {
  table["Gemm"] = gemm;
  table["MatMul"] = matmul;
}

}  // namespace shrink::onnx_io
