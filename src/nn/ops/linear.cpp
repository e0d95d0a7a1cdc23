// Linear: y = x W^T + b with W stored [out, in] like PyTorch, so ONNX/PyTorch weights copy in
// without a transpose. The GEMM runs on the calling thread, so each OpenMP thread takes a slice:
// of the batch or the output features (forward), of the input features (input gradient) or of
// the output rows (weight gradient). No slice mixes partial sums of different threads, so a
// given thread count always gives the same bits.
// The same class is FusedLinear (nn/ops/fused_ops.hpp): an inference lowering's Linear with a
// folded BatchNorm1d's scale and a clamp applied to its rows while they are in cache.
#include "nn/kernels/attributes.hpp"
#include "nn/kernels/gemm.hpp"
#include "nn/kernels/parallel.hpp"
#include "nn/kernels/sparse_linear.hpp"
#include "nn/kernels/xnor_gemm.hpp"
#include "nn/ops/fused_ops.hpp"
#include "nn/ops/ops.hpp"
#include "shrink/core/error.hpp"
#include "shrink/core/threading.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>

namespace shrink::ops {
namespace {

// Rows each thread needs before the forward pass splits the batch rather than the features.
constexpr int64_t kRowsPerThread = 128;

class Linear final : public Op {
 public:
  Linear(int64_t out_features, bool bias) : out_features_(out_features), bias_(bias) {}

  // Makes this layer a FusedLinear, for inference only (no residual).
  void fuse(const LayerEpilogue& epilogue) {
    fused_ = true;
    epilogue_ = epilogue;
  }

  std::string type() const override { return fused_ ? "FusedLinear" : "Linear"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    if (!(inputs.size() == 1))
      throw Error::bad_input("Linear takes 1 input, got " + std::to_string(inputs.size()));
    const Shape& x = inputs[0];
    if (!(x.size() == 2 && x[1] > 0))
      throw Error::bad_input("Linear expects an input of shape [N, in_features] (add a Flatten before it), got " +
                to_string(x));
    return {x[0], out_features_};
  }

  std::vector<ParameterSpec> parameter_specs(const std::vector<Shape>& inputs) const override {
    const Shape out = output_shape(inputs);
    (void)out;
    const int64_t in = inputs[0][1];
    std::vector<ParameterSpec> specs;
    specs.push_back({"weight", {out_features_, in}, Init::KaimingUniform, in, true});
    if (bias_) specs.push_back({"bias", {out_features_}, Init::BiasUniform, in, true});
    if (epilogue_.scale) specs.push_back({"scale", {out_features_}, Init::Ones, in, false});
    return specs;
  }

  void forward(const OpArgs& args, Tensor& output) override {
    if (fused_ && args.training)
      throw Error::internal(type() + " runs inference only; training runs the unfused graph");
    const Tensor& x = *args.inputs.at(0);
    const int64_t n = x.dim(0), in = x.dim(1), out = out_features_;
    check_parameters(args, in);
    // The model sizes the output before calling; a caller that did not gets it resized here
    // (not every call, which builds a shape).
    if (output.rank() != 2 || output.dim(0) != n || output.dim(1) != out) output.resize({n, out});
    // With a folded BatchNorm the bias (its shift) comes after the scale, in finish_rows.
    const float* scale = epilogue_.scale ? args.params[bias_ ? 2 : 1]->value.data() : nullptr;
    const float* shift = bias_ ? args.params[1]->value.data() : nullptr;
    const float* b = scale ? nullptr : shift;
    // Binary weights and +-1 inputs (a Sign in front): the XNOR-popcount kernel.
    // A pruned weight past the density threshold: the sparse kernels (training stays dense).
    if (!args.training && (binary_.forward(*args.params[0], x, b, output) ||
                           sparse_.forward(*args.params[0], x, b, output))) {
      if (fused_) finish_rows(output.data(), out, 0, n, 0, out, scale, shift);
      return;
    }
    const float* w = args.params[0]->effective().data();
    const float* xd = x.data();
    float* yd = output.data();
    const int threads = num_threads();
    if (transposed_.size() < static_cast<size_t>(threads))
      transposed_.resize(static_cast<size_t>(threads));
#pragma omp parallel num_threads(threads) if (n * in * out >= kernels::kParallelMacs)
    {
      const int t = omp_get_thread_num(), nt = omp_get_num_threads();
      // A large batch is split by rows, so each thread reads only its own rows of the input and
      // writes its own rows of the output, the rows the ops before and after it work on; only
      // the weight, read-only, is shared. A small batch (training's 64) is split by output
      // features instead: each thread then packs only its slice of the weight, which at 32 rows
      // a thread would cost as much as the multiply.
      using Range = std::pair<int64_t, int64_t>;
      const bool by_rows = n >= kRowsPerThread * nt;
      const auto [r0, r1] = by_rows ? kernels::thread_range(n, t, nt) : Range{0, n};
      const auto [o0, o1] = by_rows ? Range{0, out} : kernels::thread_range(out, t, nt);
      if (r1 > r0 && o1 > o0) {
        // OpenBLAS multiplies W x^T (features by rows) 15% faster than x W^T at these shapes,
        // which repays writing the product to scratch and transposing it into the output
        // rows, adding the bias on the way.
        const int64_t rows = r1 - r0, features = o1 - o0;
        std::vector<float>& z = transposed_[static_cast<size_t>(t)];
        z.resize(static_cast<size_t>(rows * features));
        kernels::gemm(false, true, features, rows, in, w + o0 * in, in, xd + r0 * in, in, false,
                      z.data(), rows);
        constexpr int64_t kTile = 16;
        for (int64_t rb = 0; rb < rows; rb += kTile)
          for (int64_t ob = 0; ob < features; ob += kTile)
            for (int64_t r = rb; r < std::min(rb + kTile, rows); ++r) {
              float* row = yd + (r0 + r) * out + o0;
              for (int64_t o = ob; o < std::min(ob + kTile, features); ++o)
                row[o] = z[static_cast<size_t>(o * rows + r)] + (b ? b[o0 + o] : 0.0f);
            }
        if (fused_) finish_rows(yd, out, r0, r1, o0, o1, scale, shift);
      }
    }
  }

  void backward(const OpArgs& args, const Tensor& output, const Tensor& grad_output,
                const std::vector<Tensor*>& grad_inputs) override {
    (void)output;
    if (fused_) throw Error::internal(type() + " runs inference only; training runs the unfused graph");
    const Tensor& x = *args.inputs.at(0);
    const int64_t n = x.dim(0), in = x.dim(1), out = out_features_;
    check_parameters(args, in);
    if (!(grad_output.shape() == Shape{n, out}))
      throw Error::bad_input("Linear: output gradient of shape " + to_string(grad_output.shape()) +
                " does not match the output [" + std::to_string(n) + ", " +
                std::to_string(out) + "]");
    Parameter& weight = *args.params[0];
    Parameter* bias = bias_ ? args.params[1] : nullptr;
    Tensor* grad_x = grad_inputs.empty() ? nullptr : grad_inputs[0];
    if (grad_x) grad_x->resize(x.shape());
    const bool weight_grad = weight.trainable;
    const bool bias_grad = bias && bias->trainable;
    if (!(!weight_grad || weight.grad.shape() == weight.value.shape()))
      throw Error::bad_input("Linear: the weight gradient is not allocated");
    if (!(!bias_grad || bias->grad.shape() == bias->value.shape()))
      throw Error::bad_input("Linear: the bias gradient is not allocated");

    const float* dy = grad_output.data();
    const float* xd = x.data();
    const float* w = weight.effective().data();
    const int threads = num_threads();
#pragma omp parallel num_threads(threads) if (n * in * out >= kernels::kParallelMacs)
    {
      const int t = omp_get_thread_num(), nt = omp_get_num_threads();
      if (grad_x) {
        // dX[n, in] = dY[n, out] W[out, in], split by input features: each thread packs only
        // its columns of the weight.
        const auto [i0, i1] = kernels::thread_range(in, t, nt);
        if (i1 > i0)
          kernels::gemm(false, false, n, i1 - i0, out, dy, out, w + i0, in, false,
                        grad_x->data() + i0, in);
      }
      // dW[out, in] += dY^T X and db += column sums of dY, split by output rows.
      const auto [o0, o1] = kernels::thread_range(out, t, nt);
      if (o1 > o0) {
        if (weight_grad)
          kernels::gemm(true, false, o1 - o0, in, n, dy + o0, out, xd, in, !args.overwrite_grads,
                        weight.grad.data() + o0 * in, in);
        if (bias_grad) {
          float* db = bias->grad.data();
          if (args.overwrite_grads) std::fill(db + o0, db + o1, 0.0f);
          for (int64_t r = 0; r < n; ++r) {
            const float* row = dy + r * out;
            for (int64_t o = o0; o < o1; ++o) db[o] += row[o];
          }
        }
      }
    }
  }

  bool overwrites_grads() const override { return true; }

  int64_t macs(const std::vector<Shape>& inputs) const override {
    const Shape out = output_shape(inputs);
    return out[0] * out[1] * inputs[0][1];
  }

  nlohmann::json attributes() const override {
    nlohmann::json a = {{"out_features", out_features_}, {"bias", bias_}};
    if (fused_) {
      a["scale"] = epilogue_.scale;
      if (std::isfinite(epilogue_.lo)) a["min"] = epilogue_.lo;
      if (std::isfinite(epilogue_.hi)) a["max"] = epilogue_.hi;
    }
    return a;
  }

 private:
  // FusedLinear's epilogue on rows [r0, r1), features [o0, o1) of y[n, out]: the sums are
  // scaled and shifted when a BatchNorm is folded in (else the bias is already added), then
  // clamped.
  void finish_rows(float* y, int64_t out, int64_t r0, int64_t r1, int64_t o0, int64_t o1,
                   const float* scale, const float* shift) const {
    const float lo = epilogue_.lo, hi = epilogue_.hi;
    for (int64_t r = r0; r < r1; ++r) {
      float* row = y + r * out;
      if (scale)
        for (int64_t o = o0; o < o1; ++o) row[o] = row[o] * scale[o] + (shift ? shift[o] : 0.0f);
      for (int64_t o = o0; o < o1; ++o) row[o] = std::min(std::max(row[o], lo), hi);
    }
  }

  void check_parameters(const OpArgs& args, int64_t in) const {
    const size_t count = 1 + (bias_ ? 1 : 0) + (epilogue_.scale ? 1 : 0);
    if (!(args.params.size() == count))
      throw Error::bad_input(type() + ": expected " + std::to_string(count) + " parameters, got " +
                std::to_string(args.params.size()));
    // Dimensions compared one by one: a Shape to compare with would be allocated every call.
    const Shape& weight = args.params[0]->value.shape();
    if (weight.size() != 2 || weight[0] != out_features_ || weight[1] != in)
      throw Error::bad_input("Linear: weight of shape " + to_string(args.params[0]->value.shape()) +
                " does not match [out_features, in_features] = [" +
                std::to_string(out_features_) + ", " + std::to_string(in) + "]");
    if (bias_ && (args.params[1]->value.rank() != 1 || args.params[1]->value.dim(0) != out_features_))
      throw Error::bad_input("Linear: bias of shape " + to_string(args.params[1]->value.shape()) +
                " does not match [" + std::to_string(out_features_) + "]");
  }

  int64_t out_features_;
  bool bias_;
  std::vector<std::vector<float>> transposed_;  // per thread: its slice of W x^T
  kernels::BinaryLinear binary_;
  kernels::SparseLinear sparse_;
  // FusedLinear: what the epilogue adds to the layer.
  bool fused_ = false;
  LayerEpilogue epilogue_;
};

std::unique_ptr<Linear> build_linear(const Json& attributes) {
  kernels::check_attribute_keys(attributes, "Linear", {"out_features", "bias"});
  const int64_t out = kernels::read_int(attributes, "Linear", "out_features", std::nullopt, 1);
  const bool bias = kernels::read_bool(attributes, "Linear", "bias", true);
  return std::make_unique<Linear>(out, bias);
}

}  // namespace

std::unique_ptr<Op> make_linear(const Json& attributes) { return build_linear(attributes); }

std::unique_ptr<Op> make_fused_linear(const Json& attributes, const LayerEpilogue& epilogue) {
  if (epilogue.residual) throw Error::internal("FusedLinear takes no residual");
  std::unique_ptr<Linear> linear = build_linear(attributes);
  linear->fuse(epilogue);
  return linear;
}

}  // namespace shrink::ops
