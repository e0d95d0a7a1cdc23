// prune.obs: Optimal Brain Surgeon (Hassibi & Stork, NeurIPS 1993) in the practical form of the
// WoodFisher / OBC line of work (Singh & Alistarh 2020; Frantar & Alistarh 2022): the Hessian
// is the empirical Fisher F = E[g gᵀ] of per-sample gradients, restricted to blocks of one
// output unit (a row of a Linear weight, an output channel's kernel of a Conv2d), damped by
// λ = damping · mean(diag F). A weight's saliency is the loss its removal costs when the other
// weights of its row move to make up for it,
//
//     L_q = w_q² / (2 [F⁻¹]_qq),
//
// and once the lowest-saliency weights Q of a row are chosen (globally or per layer, as for every
// criterion), the survivors R take the joint OBS update that minimises ½ δwᵀ F δw with
// δw_Q = -w_Q:  δw_R = F_RR⁻¹ F_RQ w_Q. So one-shot pruning loses less than magnitude without
// any fine-tuning. Pruned weights stay out of every block (they are constrained to zero).
//
// Cost per row of k weights over N samples: forming F is N·k² (float GEMM), inverting it k³
// (double Cholesky), or, when N < k, N²·k through the Woodbury identity. Per-sample gradients of
// a Linear row are δ_n,o · x_n; of a Conv2d channel, the sample's column matrix times its output
// gradient — both from the node's input and output gradient in inference mode.
#include "compress/passes.hpp"
#include "compress/prune/calibration.hpp"
#include "compress/prune/scored_pruner.hpp"
#include "nn/kernels/im2col.hpp"
#include "shrink/core/threading.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <omp.h>

#include <cmath>
#include <functional>

namespace shrink {
namespace {

using MatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixD = Eigen::MatrixXd;
using VectorD = Eigen::VectorXd;

// Per-sample gradient rows of one layer are built in chunks of rows of at most this size.
constexpr int64_t kChunkBytes = int64_t{256} << 20;

// What a Linear or Conv2d node saw on the calibration samples: its input and the gradient of
// each sample's own loss with respect to its output.
struct LayerSamples {
  Parameter* weight = nullptr;
  std::string node;
  bool conv = false;
  kernels::Conv2dGeometry geometry;  // conv only: one sample's input
  int64_t groups = 1;
  int64_t rows = 0, k = 0, pixels = 1;  // rows of k weights; output pixels per row
  int64_t input_size = 0, output_size = 0;  // floats per sample
  int64_t n = 0;
  std::vector<float> inputs, deltas;
};

// An attribute written as one number or as a pair (kernel_size 5 or [5, 5]).
void read_pair(const nlohmann::json& value, int64_t& first, int64_t& second) {
  first = (value.is_array() ? value[0] : value).get<int64_t>();
  second = (value.is_array() ? value[1] : value).get<int64_t>();
}

LayerSamples describe(Model& model, Parameter* weight) {
  const Node* node = nullptr;
  for (const Node& candidate : model.nodes())
    if (candidate.name + ".weight" == weight->name) node = &candidate;
  require(node != nullptr && (node->op->type() == "Linear" || node->op->type() == "Conv2d"),
          "prune.obs works on the weights of Linear and Conv2d nodes; " + weight->name +
              " is not one (exclude it)");
  LayerSamples s;
  s.weight = weight;
  s.node = node->name;
  const Shape input = model.input_shapes(*node, 1)[0];
  s.input_size = 1;
  for (size_t d = 1; d < input.size(); ++d) s.input_size *= input[d];
  s.output_size = 1;
  for (int64_t d : node->output_shape) s.output_size *= d;
  s.rows = weight->value.dim(0);
  s.k = weight->value.numel() / s.rows;
  if (node->op->type() == "Conv2d") {
    const nlohmann::json a = node->op->attributes();
    kernels::Conv2dGeometry& g = s.geometry;
    g.channels = input[1];
    g.height = input[2];
    g.width = input[3];
    read_pair(a.at("kernel_size"), g.kernel_h, g.kernel_w);
    read_pair(a.at("stride"), g.stride_h, g.stride_w);
    read_pair(a.at("padding"), g.pad_h, g.pad_w);
    read_pair(a.at("dilation"), g.dilation_h, g.dilation_w);
    s.groups = a.at("groups").get<int64_t>();
    s.conv = true;
    s.pixels = g.column_cols();
  }
  return s;
}

// Rows [r0, r1) of the per-sample gradients, scaled by 1/sqrt(N): u[r - r0] is N x k, so that
// uᵀu is the empirical Fisher block of row r.
std::vector<MatrixF> gradient_rows(const LayerSamples& s, int64_t r0, int64_t r1) {
  std::vector<MatrixF> u(static_cast<size_t>(r1 - r0), MatrixF(s.n, s.k));
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.n));
  const int64_t rows_per_group = s.rows / s.groups;
  std::vector<float> columns(static_cast<size_t>(s.conv ? s.geometry.column_rows() * s.pixels : 0));
  for (int64_t n = 0; n < s.n; ++n) {
    const float* x = s.inputs.data() + n * s.input_size;
    const float* delta = s.deltas.data() + n * s.output_size;
    if (!s.conv) {
      const Eigen::Map<const Eigen::RowVectorXf> input(x, s.k);
      for (int64_t r = r0; r < r1; ++r) u[static_cast<size_t>(r - r0)].row(n) = scale * delta[r] * input;
      continue;
    }
    kernels::im2col(s.geometry, x, columns.data());
    const Eigen::Map<const MatrixF> all(columns.data(), s.geometry.column_rows(), s.pixels);
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t group = r / rows_per_group;
      const Eigen::Map<const Eigen::RowVectorXf> d(delta + r * s.pixels, s.pixels);
      u[static_cast<size_t>(r - r0)].row(n) =
          scale * (d * all.middleRows(group * s.k, s.k).transpose());
    }
  }
  return u;
}

// Columns `keep` of u, in double.
MatrixD columns_of(const MatrixF& u, const std::vector<int64_t>& keep) {
  MatrixD out(u.rows(), static_cast<int64_t>(keep.size()));
  for (size_t j = 0; j < keep.size(); ++j) out.col(static_cast<int64_t>(j)) = u.col(keep[j]).cast<double>();
  return out;
}

// λ = relative · mean(diag F) over the columns `keep` of the block F = uᵀu.
double damping_of(const MatrixF& u, const std::vector<int64_t>& keep, double relative) {
  double sum = 0.0;
  for (int64_t j : keep) sum += u.col(j).cast<double>().squaredNorm();
  const double mean = keep.empty() ? 0.0 : sum / static_cast<double>(keep.size());
  return std::max(relative * mean, 1e-12);
}

// The damped Fisher block F = λI + UᵀU, factored to apply F⁻¹: directly, or, when U has fewer
// rows (samples) than columns (weights), through the Woodbury identity
// F⁻¹ = (I - Uᵀ (λI + UUᵀ)⁻¹ U) / λ, which factors an N x N matrix instead.
class DampedFisher {
 public:
  DampedFisher(const MatrixD& u, double lambda) : u_(u), lambda_(lambda) {
    const int64_t m = u.cols();
    woodbury_ = u.rows() < m;
    if (woodbury_) {
      MatrixD inner = u * u.transpose();
      inner.diagonal().array() += lambda_;
      inner_.compute(inner);
    } else {
      MatrixD f = u.transpose() * u;
      f.diagonal().array() += lambda_;
      direct_.compute(f);
    }
  }

  // diag(F⁻¹)
  VectorD inverse_diagonal() const {
    if (woodbury_) {
      // With λI + UUᵀ = L Lᵀ and Z = L⁻¹ U, diag(F⁻¹) = (1 - |Z column|²) / λ.
      const MatrixD z = inner_.matrixL().solve(u_);
      return (1.0 - z.colwise().squaredNorm().transpose().array()) / lambda_;
    }
    const MatrixD l_inverse =
        direct_.matrixL().solve(MatrixD::Identity(u_.cols(), u_.cols()));
    return l_inverse.colwise().squaredNorm().transpose();
  }

  // F⁻¹ b
  VectorD solve(const VectorD& b) const {
    if (woodbury_) return (b - u_.transpose() * inner_.solve(u_ * b)) / lambda_;
    return direct_.solve(b);
  }

 private:
  const MatrixD& u_;
  double lambda_ = 0.0;
  bool woodbury_ = false;
  Eigen::LLT<MatrixD> inner_, direct_;
};

class OptimalBrainSurgeon final : public PruningCriterion {
 public:
  explicit OptimalBrainSurgeon(PassOptions& options)
      : calibration_(CalibrationOptions::read(options, "pass prune.obs")),
        damping_(options.get<double>("damping", 0.01)) {
    require(std::isfinite(damping_) && damping_ > 0.0,
            "pass prune.obs: damping must be a positive number, got " + std::to_string(damping_));
  }

  nlohmann::json options() const override {
    nlohmann::json json = calibration_.to_json();
    json["damping"] = damping_;
    return json;
  }

  std::vector<Tensor> scores(Model& model, const std::vector<Parameter*>& weights,
                             PassContext& context) override {
    capture(model, weights, context);
    std::vector<Tensor> scores;
    for (const LayerSamples& s : layers_) {
      Tensor score(s.weight->value.shape());
      for_each_row(s, [&](int64_t r, const MatrixF& u) {
        const std::vector<int64_t> alive = entries(s, r, s.weight->mask, 1.0f);
        if (alive.empty()) return;
        const MatrixD ua = columns_of(u, alive);
        const VectorD inverse =
            DampedFisher(ua, damping_of(u, alive, damping_)).inverse_diagonal();
        for (size_t j = 0; j < alive.size(); ++j) {
          const double w = s.weight->value[r * s.k + alive[j]];
          score[r * s.k + alive[j]] = static_cast<float>(w * w / (2.0 * inverse[static_cast<int64_t>(j)]));
        }
      });
      scores.push_back(std::move(score));
    }
    return scores;
  }

  void compensate(const std::vector<Parameter*>& weights,
                  const std::vector<Tensor>& masks_before) override {
    for (size_t t = 0; t < weights.size(); ++t) {
      const LayerSamples& s = layers_[t];
      Tensor& value = s.weight->value;
      for_each_row(s, [&](int64_t r, const MatrixF& u) {
        const std::vector<int64_t> removed = newly_pruned(s, r, masks_before[t]);
        const std::vector<int64_t> survivors = entries(s, r, s.weight->mask, 1.0f);
        if (removed.empty() || survivors.empty()) return;
        // λ as in the scores: over the row's weights alive before this pass.
        const double lambda = damping_of(u, entries(s, r, masks_before[t], 1.0f), damping_);
        const MatrixD ur = columns_of(u, survivors);
        VectorD wq(static_cast<int64_t>(removed.size()));
        for (size_t j = 0; j < removed.size(); ++j) wq[static_cast<int64_t>(j)] = value[r * s.k + removed[j]];
        // F_RQ w_Q = U_Rᵀ (U_Q w_Q): F has no damping off its diagonal.
        const VectorD rhs = ur.transpose() * (columns_of(u, removed) * wq);
        const VectorD step = DampedFisher(ur, lambda).solve(rhs);
        for (size_t j = 0; j < survivors.size(); ++j)
          value[r * s.k + survivors[j]] += static_cast<float>(step[static_cast<int64_t>(j)]);
      });
    }
    layers_.clear();
  }

 private:
  // Runs the calibration samples through a copy of the model in inference mode and keeps, for
  // each weight's node, its input and the gradient of each sample's loss at its output.
  void capture(Model& model, const std::vector<Parameter*>& weights, PassContext& context) {
    layers_.clear();
    for (Parameter* p : weights) layers_.push_back(describe(model, p));
    Model copy = model.clone();
    for_each_calibration_batch(model, context, calibration_, calibration_.batch,
                               [&](const Tensor& x, const std::vector<int32_t>& labels) {
      loss_gradients(copy, x, labels, /*training=*/false);
      const auto batch = static_cast<int64_t>(labels.size());
      for (LayerSamples& s : layers_) {
        const Node& node = copy.node(s.node);
        const Tensor& input =
            node.inputs[0] == copy.input_name() ? x : copy.value(node.inputs[0]);
        const Tensor& gradient = copy.gradient(s.node);
        s.inputs.insert(s.inputs.end(), input.data(), input.data() + batch * s.input_size);
        const size_t start = s.deltas.size();
        s.deltas.insert(s.deltas.end(), gradient.data(), gradient.data() + batch * s.output_size);
        // The gradient of the batch's mean loss, times the batch size: each sample's own.
        for (size_t i = start; i < s.deltas.size(); ++i) s.deltas[i] *= static_cast<float>(batch);
        s.n += batch;
      }
    });
  }

  // Calls body(row, u) for every row, u being its per-sample gradients; rows run in parallel.
  void for_each_row(const LayerSamples& s,
                    const std::function<void(int64_t, const MatrixF&)>& body) const {
    const int64_t per_row = std::max<int64_t>(1, s.n * s.k * 4);
    const int64_t chunk = std::max<int64_t>(1, kChunkBytes / per_row);
    for (int64_t r0 = 0; r0 < s.rows; r0 += chunk) {
      const int64_t r1 = std::min(s.rows, r0 + chunk);
      const std::vector<MatrixF> u = gradient_rows(s, r0, r1);
#pragma omp parallel for schedule(dynamic, 1) num_threads(num_threads())
      for (int64_t r = r0; r < r1; ++r) body(r, u[static_cast<size_t>(r - r0)]);
    }
  }

  // Positions within row r whose mask equals `value`.
  static std::vector<int64_t> entries(const LayerSamples& s, int64_t r, const Tensor& mask,
                                      float value) {
    std::vector<int64_t> out;
    for (int64_t j = 0; j < s.k; ++j)
      if (mask[r * s.k + j] == value) out.push_back(j);
    return out;
  }

  static std::vector<int64_t> newly_pruned(const LayerSamples& s, int64_t r, const Tensor& before) {
    std::vector<int64_t> out;
    for (int64_t j = 0; j < s.k; ++j)
      if (before[r * s.k + j] != 0.0f && s.weight->mask[r * s.k + j] == 0.0f) out.push_back(j);
    return out;
  }

  CalibrationOptions calibration_;
  double damping_;
  std::vector<LayerSamples> layers_;  // from scores() to compensate()
};

}  // namespace

std::unique_ptr<Pass> make_obs_pruner(const nlohmann::json& options) {
  return make_scored_pruner("prune.obs", options,
                            [](PassOptions& o) { return std::make_unique<OptimalBrainSurgeon>(o); });
}

}  // namespace shrink
