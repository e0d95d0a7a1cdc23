// Transpose (ONNX): output axis i is input axis perm[i]; no perm reverses the axes. perm[0]
// must be 0, since the batch axis stays first, unless "across_batch" allows moving it (inference
// only; see across_batch.hpp).
#include "nn/ops/across_batch.hpp"
#include "nn/ops/axes.hpp"
#include "nn/ops/op_support.hpp"
#include "nn/ops/ops.hpp"

namespace shrink::ops {
namespace {

class Transpose final : public Op {
 public:
  Transpose(std::vector<int64_t> perm, AcrossBatch across_batch)
      : perm_(std::move(perm)), across_batch_(across_batch) {}

  std::string type() const override { return "Transpose"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    require(inputs.size() == 1, "Transpose takes 1 input, got " + std::to_string(inputs.size()));
    const Shape& x = inputs[0];
    require(!x.empty(), "Transpose needs a batch-first input [N, ...], got a scalar shape []");
    const std::vector<int64_t> perm = resolve(x);
    Shape out(x.size());
    for (size_t i = 0; i < x.size(); ++i) out[i] = x[static_cast<size_t>(perm[i])];
    return out;
  }

  void forward(const OpArgs& args, Tensor& output) override {
    const Tensor& x = single_input(type(), args);
    across_batch_.check_inference(args, type());
    if (across_batch_.allowed) output.resize(output_shape({x.shape()}));
    require_same_numel(type(), output, "output", x, "input");
    permute(x.shape(), x.data(), output.data(), false);
  }

  void backward(const OpArgs& args, const Tensor& output, const Tensor& grad_output,
                const std::vector<Tensor*>& grad_inputs) override {
    (void)output;
    const Tensor& x = single_input(type(), args);
    if (grad_inputs.empty() || grad_inputs[0] == nullptr) return;
    require_same_numel(type(), grad_output, "output gradient", x, "input");
    Tensor& gx = *grad_inputs[0];
    gx.resize(x.shape());
    permute(x.shape(), grad_output.data(), gx.data(), true);
  }

  Json attributes() const override {
    Json j = Json::object();
    if (!perm_.empty()) j["perm"] = perm_;
    across_batch_.write(j);
    return j;
  }

 private:
  std::vector<int64_t> resolve(const Shape& x) const {
    const int64_t rank = static_cast<int64_t>(x.size());
    std::vector<int64_t> perm = perm_;
    if (perm.empty())
      for (int64_t i = rank - 1; i >= 0; --i) perm.push_back(i);
    require(static_cast<int64_t>(perm.size()) == rank,
            "Transpose: perm " + to_string(perm) + " has " + std::to_string(perm.size()) +
                " entries but input " + to_string(x) + " has rank " + std::to_string(rank));
    std::vector<char> seen(static_cast<size_t>(rank), 0);
    for (int64_t& p : perm) {
      p = normalize_axis("Transpose", "perm entry", p, rank, x);
      require(!seen[static_cast<size_t>(p)],
              "Transpose: perm " + to_string(perm_) + " is not a permutation");
      seen[static_cast<size_t>(p)] = 1;
    }
    require(perm[0] == 0 || across_batch_.allowed, "Transpose: perm " + to_string(perm) + " moves the batch axis 0 of input " +
                              to_string(x) + "; the batch axis must stay first (perm[0] = 0)");
    return perm;
  }

  // Walks the output in order; with `inverse` scatters from output order back to input order.
  void permute(const Shape& in_shape, const float* src, float* dst, bool inverse) const {
    const std::vector<int64_t> perm = resolve(in_shape);
    const size_t rank = in_shape.size();
    std::vector<int64_t> in_strides(rank, 1);
    for (size_t d = rank - 1; d-- > 0;) in_strides[d] = in_strides[d + 1] * in_shape[d + 1];
    Shape out_shape(rank);
    std::vector<int64_t> stride(rank);  // input stride of each output axis
    for (size_t i = 0; i < rank; ++i) {
      out_shape[i] = in_shape[static_cast<size_t>(perm[i])];
      stride[i] = in_strides[static_cast<size_t>(perm[i])];
    }
    // Each slice of output axis 0 (a sample when perm[0] = 0) is independent: parallel over it.
    const int64_t batch = out_shape[0];
    const int64_t per_sample = batch == 0 ? 0 : element_count(in_shape) / batch;
#pragma omp parallel for schedule(static) if (element_count(in_shape) > kParallelElements)
    for (int64_t n = 0; n < batch; ++n) {
      std::vector<int64_t> index(rank, 0);
      int64_t in_offset = n * stride[0];
      const int64_t out_base = n * per_sample;
      for (int64_t o = 0; o < per_sample; ++o) {
        if (inverse)
          dst[in_offset] = src[out_base + o];
        else
          dst[out_base + o] = src[in_offset];
        // Advance the output index (odometer over axes 1..rank-1).
        for (size_t d = rank - 1; d >= 1; --d) {
          in_offset += stride[d];
          if (++index[d] < out_shape[d]) break;
          in_offset -= stride[d] * out_shape[d];
          index[d] = 0;
        }
      }
    }
  }

  std::vector<int64_t> perm_;
  AcrossBatch across_batch_;
};

}  // namespace

std::unique_ptr<Op> make_transpose(const Json& attributes) {
  reject_unknown_attributes("Transpose", attributes, {"perm", "across_batch"});
  std::vector<int64_t> perm;
  if (attributes.contains("perm")) perm = json_ints(attributes, "perm");
  return std::make_unique<Transpose>(std::move(perm), AcrossBatch::read(attributes, "Transpose"));
}

}  // namespace shrink::ops
