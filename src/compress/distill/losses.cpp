#include "compress/distill/losses.hpp"

#include "shrink/core/error.hpp"

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>

namespace shrink::distill {
namespace {

using MatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// torch.nn.functional.normalize's floor on the norm.
constexpr double kNormFloor = 1e-12;

// Huber loss with δ = 1 (PyTorch's smooth_l1_loss) and its derivative.
double huber(double x) { return std::abs(x) < 1.0 ? 0.5 * x * x : std::abs(x) - 0.5; }
double huber_slope(double x) { return std::clamp(x, -1.0, 1.0); }

// The rows of a batch [N, ...] as an N x D matrix in double.
MatrixD rows_of(const Tensor& batch) {
  require(batch.rank() >= 2 && batch.dim(0) > 0,
          "embeddings must be a batch [N, ...], got shape " + to_string(batch.shape()));
  const int64_t n = batch.dim(0);
  return batch.matrix(n, batch.numel() / n).cast<double>();
}

void require_same_batch(const Tensor& a, const Tensor& b, const std::string& what) {
  require(a.rank() >= 1 && b.rank() >= 1 && a.dim(0) == b.dim(0),
          what + ": the student's batch " + to_string(a.shape()) + " and the teacher's " +
              to_string(b.shape()) + " differ in size");
}

// A feature map brought to a common spatial size: pooled when larger, else the input itself.
struct PooledFeatures {
  const Tensor* source = nullptr;
  Tensor pooled;
  bool was_pooled = false;
  const Tensor& value() const { return was_pooled ? pooled : *source; }
};

// The spatial size two feature maps are compared at: the smaller of the two.
Shape common_spatial(const Tensor& a, const Tensor& b, const std::string& what) {
  const FeatureLayout la = feature_layout(a.shape());
  const FeatureLayout lb = feature_layout(b.shape());
  if (la.spatial == lb.spatial) return la.spatial;
  require(a.rank() == 4 && b.rank() == 4,
          what + ": feature maps of shapes " + to_string(a.shape()) + " and " +
              to_string(b.shape()) + " differ in their spatial size, and only [N, C, H, W] maps "
              "can be pooled to a common size");
  const bool a_smaller = la.spatial[0] <= lb.spatial[0] && la.spatial[1] <= lb.spatial[1];
  const bool b_smaller = lb.spatial[0] <= la.spatial[0] && lb.spatial[1] <= la.spatial[1];
  require(a_smaller || b_smaller,
          what + ": neither of the feature maps " + to_string(a.shape()) + " and " +
              to_string(b.shape()) + " fits inside the other, so they cannot be pooled to a "
              "common size");
  return a_smaller ? la.spatial : lb.spatial;
}

PooledFeatures pool_to(const Tensor& features, const Shape& spatial) {
  PooledFeatures result;
  result.source = &features;
  const FeatureLayout layout = feature_layout(features.shape());
  if (layout.spatial == spatial) return result;
  result.was_pooled = true;
  result.pooled.resize({layout.batch, layout.channels, spatial[0], spatial[1]});
  adaptive_average_pool(features.data(), layout.batch * layout.channels, layout.spatial[0],
                        layout.spatial[1], result.pooled.data(), spatial[0], spatial[1]);
  return result;
}

// The gradient for `features` given the gradient for its pooled value (or the value itself).
void unpool_gradient(const PooledFeatures& features, Tensor& grad) {
  if (!features.was_pooled) return;
  const FeatureLayout from = feature_layout(features.source->shape());
  const FeatureLayout to = feature_layout(features.pooled.shape());
  Tensor full(features.source->shape());
  adaptive_average_pool_backward(grad.data(), from.batch * from.channels, from.spatial[0],
                                 from.spatial[1], full.data(), to.spatial[0], to.spatial[1]);
  grad = std::move(full);
}

int64_t window_start(int64_t i, int64_t in, int64_t out) { return (i * in) / out; }
int64_t window_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

}  // namespace

Tensor softened(const Tensor& logits, double temperature) {
  require(logits.rank() == 2, "logits must be [N, K], got shape " + to_string(logits.shape()));
  require(temperature > 0.0, "the temperature must be positive, got " + std::to_string(temperature));
  const int64_t n = logits.dim(0), k = logits.dim(1);
  Tensor probabilities({n, k});
  for (int64_t i = 0; i < n; ++i) {
    const float* z = logits.data() + i * k;
    float* p = probabilities.data() + i * k;
    const double max = *std::max_element(z, z + k);
    double sum = 0.0;
    for (int64_t j = 0; j < k; ++j) sum += std::exp((z[j] - max) / temperature);
    for (int64_t j = 0; j < k; ++j) p[j] = static_cast<float>(std::exp((z[j] - max) / temperature) / sum);
  }
  return probabilities;
}

double kd_loss(const Tensor& student_logits, const Tensor& target, double temperature,
               Tensor* grad) {
  require(student_logits.rank() == 2 && target.shape() == student_logits.shape(),
          "the student's logits " + to_string(student_logits.shape()) +
              " and the teachers' probabilities " + to_string(target.shape()) +
              " must have the same shape [N, classes]");
  require(temperature > 0.0, "the temperature must be positive, got " + std::to_string(temperature));
  const int64_t n = student_logits.dim(0), k = student_logits.dim(1);
  if (grad != nullptr) grad->resize(student_logits.shape());
  double total = 0.0;
  std::vector<double> log_p(static_cast<size_t>(k));
  for (int64_t i = 0; i < n; ++i) {
    const float* z = student_logits.data() + i * k;
    const float* t = target.data() + i * k;
    const double max = *std::max_element(z, z + k);
    double sum = 0.0;
    for (int64_t j = 0; j < k; ++j) sum += std::exp((z[j] - max) / temperature);
    const double log_sum = std::log(sum);
    for (int64_t j = 0; j < k; ++j) {
      log_p[static_cast<size_t>(j)] = (z[j] - max) / temperature - log_sum;
      // KL's 0 · log 0 = 0, as torch's kl_div (xlogy) has it.
      if (t[j] > 0.0f) total += t[j] * (std::log(static_cast<double>(t[j])) - log_p[static_cast<size_t>(j)]);
    }
    if (grad != nullptr)
      for (int64_t j = 0; j < k; ++j)
        (*grad)[i * k + j] = static_cast<float>(
            temperature * (std::exp(log_p[static_cast<size_t>(j)]) - t[j]) / static_cast<double>(n));
  }
  return temperature * temperature * total / static_cast<double>(n);
}

double mean_squared_error(const Tensor& a, const Tensor& b, Tensor* grad) {
  require(a.shape() == b.shape(), "the two activations have shapes " + to_string(a.shape()) +
                                      " and " + to_string(b.shape()) + "; they must match");
  require(a.numel() > 0, "mean squared error of empty tensors");
  const double count = static_cast<double>(a.numel());
  double total = 0.0;
  if (grad != nullptr) grad->resize(a.shape());
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    total += d * d;
    if (grad != nullptr) (*grad)[i] = static_cast<float>(2.0 * d / count);
  }
  return total / count;
}

FeatureLayout feature_layout(const Shape& shape) {
  require(shape.size() >= 2 && shape[0] > 0 && shape[1] > 0,
          "features must be [N, C] or [N, C, spatial...], got shape " + to_string(shape));
  FeatureLayout layout;
  layout.batch = shape[0];
  layout.channels = shape[1];
  layout.spatial.assign(shape.begin() + 2, shape.end());
  layout.positions = element_count(layout.spatial);
  return layout;
}

void adaptive_average_pool(const float* input, int64_t planes, int64_t height, int64_t width,
                           float* output, int64_t out_height, int64_t out_width) {
  for (int64_t plane = 0; plane < planes; ++plane) {
    const float* in = input + plane * height * width;
    float* out = output + plane * out_height * out_width;
    for (int64_t i = 0; i < out_height; ++i) {
      const int64_t r0 = window_start(i, height, out_height), r1 = window_end(i, height, out_height);
      for (int64_t j = 0; j < out_width; ++j) {
        const int64_t c0 = window_start(j, width, out_width), c1 = window_end(j, width, out_width);
        double sum = 0.0;
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t c = c0; c < c1; ++c) sum += in[r * width + c];
        out[i * out_width + j] = static_cast<float>(sum / static_cast<double>((r1 - r0) * (c1 - c0)));
      }
    }
  }
}

void adaptive_average_pool_backward(const float* grad_output, int64_t planes, int64_t height,
                                    int64_t width, float* grad_input, int64_t out_height,
                                    int64_t out_width) {
  std::fill(grad_input, grad_input + planes * height * width, 0.0f);
  for (int64_t plane = 0; plane < planes; ++plane) {
    const float* g = grad_output + plane * out_height * out_width;
    float* in = grad_input + plane * height * width;
    for (int64_t i = 0; i < out_height; ++i) {
      const int64_t r0 = window_start(i, height, out_height), r1 = window_end(i, height, out_height);
      for (int64_t j = 0; j < out_width; ++j) {
        const int64_t c0 = window_start(j, width, out_width), c1 = window_end(j, width, out_width);
        const float share = g[i * out_width + j] / static_cast<float>((r1 - r0) * (c1 - c0));
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t c = c0; c < c1; ++c) in[r * width + c] += share;
      }
    }
  }
}

Tensor attention_map(const Tensor& features, double p) {
  require(p >= 1.0, "the attention power p must be at least 1, got " + std::to_string(p));
  const FeatureLayout layout = feature_layout(features.shape());
  require(!layout.spatial.empty(),
          "attention needs feature maps [N, C, H, W] (or [N, C, L]), got shape " +
              to_string(features.shape()) + "; a vector has no spatial attention");
  const int64_t n = layout.batch, c = layout.channels, positions = layout.positions;
  Tensor map({n, positions});
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> q(static_cast<size_t>(positions), 0.0);
    for (int64_t ch = 0; ch < c; ++ch) {
      const float* a = features.data() + (i * c + ch) * positions;
      for (int64_t s = 0; s < positions; ++s) q[static_cast<size_t>(s)] += std::pow(std::abs(a[s]), p);
    }
    double norm = 0.0;
    for (double v : q) norm += v * v;
    norm = std::max(std::sqrt(norm), kNormFloor);
    for (int64_t s = 0; s < positions; ++s) map[i * positions + s] = static_cast<float>(q[static_cast<size_t>(s)] / norm);
  }
  return map;
}

double attention_loss(const Tensor& student, const Tensor& teacher, double p, Tensor* grad) {
  require_same_batch(student, teacher, "attention");
  // Checked before pooling to a common size, whose message would not say what is wrong.
  for (const Tensor* features : {&student, &teacher})
    require(features->rank() >= 3,
            "attention needs feature maps [N, C, H, W] (or [N, C, L]), got shape " +
                to_string(features->shape()) + "; a vector has no spatial attention");
  const Shape spatial = common_spatial(student, teacher, "attention");
  const PooledFeatures s = pool_to(student, spatial);
  const Tensor q_s = attention_map(s.value(), p);
  const Tensor q_t = attention_map(pool_to(teacher, spatial).value(), p);
  const FeatureLayout layout = feature_layout(s.value().shape());
  const int64_t n = layout.batch, c = layout.channels, positions = layout.positions;
  const double count = static_cast<double>(n * positions);
  double total = 0.0;
  for (int64_t i = 0; i < q_s.numel(); ++i) total += (static_cast<double>(q_s[i]) - q_t[i]) * (q_s[i] - q_t[i]);
  if (grad == nullptr) return total / count;

  grad->resize(s.value().shape());
  for (int64_t i = 0; i < n; ++i) {
    // The un-normalised map's norm, for the gradient of q = Q / |Q|.
    std::vector<double> big_q(static_cast<size_t>(positions), 0.0);
    for (int64_t ch = 0; ch < c; ++ch) {
      const float* a = s.value().data() + (i * c + ch) * positions;
      for (int64_t k = 0; k < positions; ++k) big_q[static_cast<size_t>(k)] += std::pow(std::abs(a[k]), p);
    }
    double norm = 0.0;
    for (double v : big_q) norm += v * v;
    norm = std::sqrt(norm);
    const float* q = q_s.data() + i * positions;
    const float* t = q_t.data() + i * positions;
    std::vector<double> dq(static_cast<size_t>(positions));
    double q_dot_dq = 0.0;
    for (int64_t k = 0; k < positions; ++k) {
      dq[static_cast<size_t>(k)] = 2.0 * (static_cast<double>(q[k]) - t[k]) / count;
      q_dot_dq += q[k] * dq[static_cast<size_t>(k)];
    }
    std::vector<double> d_big_q(static_cast<size_t>(positions));
    for (int64_t k = 0; k < positions; ++k)
      d_big_q[static_cast<size_t>(k)] = norm > kNormFloor ? (dq[static_cast<size_t>(k)] - q[k] * q_dot_dq) / norm
                                                          : dq[static_cast<size_t>(k)] / kNormFloor;
    for (int64_t ch = 0; ch < c; ++ch) {
      const float* a = s.value().data() + (i * c + ch) * positions;
      float* g = grad->data() + (i * c + ch) * positions;
      for (int64_t k = 0; k < positions; ++k) {
        const double slope = a[k] == 0.0f ? 0.0 : p * std::pow(std::abs(a[k]), p - 1.0) * (a[k] > 0.0f ? 1.0 : -1.0);
        g[k] = static_cast<float>(d_big_q[static_cast<size_t>(k)] * slope);
      }
    }
  }
  unpool_gradient(s, *grad);
  return total / count;
}

namespace {

// G = A Bᵀ / positions per sample, for maps already at a common size.
Tensor fsp_of(const Tensor& a, const Tensor& b) {
  const FeatureLayout la = feature_layout(a.shape()), lb = feature_layout(b.shape());
  const int64_t positions = la.positions;
  Tensor g({la.batch, la.channels, lb.channels});
  for (int64_t i = 0; i < la.batch; ++i) {
    const ConstMatrixMap fa(a.data() + i * la.channels * positions, la.channels, positions);
    const ConstMatrixMap fb(b.data() + i * lb.channels * positions, lb.channels, positions);
    MatrixMap(g.data() + i * la.channels * lb.channels, la.channels, lb.channels) =
        (fa.cast<double>() * fb.cast<double>().transpose() / static_cast<double>(positions)).cast<float>();
  }
  return g;
}

}  // namespace

Tensor fsp_matrix(const Tensor& first, const Tensor& second) {
  require_same_batch(first, second, "fsp");
  const Shape spatial = common_spatial(first, second, "fsp");
  const PooledFeatures a = pool_to(first, spatial), b = pool_to(second, spatial);
  return fsp_of(a.value(), b.value());
}

double fsp_loss(const Tensor& first, const Tensor& second, const Tensor& teacher_fsp,
                Tensor* grad_first, Tensor* grad_second) {
  require_same_batch(first, second, "fsp");
  const Shape spatial = common_spatial(first, second, "fsp");
  const PooledFeatures a = pool_to(first, spatial), b = pool_to(second, spatial);
  const Tensor g = fsp_of(a.value(), b.value());
  require(g.shape() == teacher_fsp.shape(),
          "the student's FSP matrices are " + to_string(g.shape()) + " but the teacher's are " +
              to_string(teacher_fsp.shape()) + "; the paired layers must have the same channel "
              "counts in both networks");
  const double count = static_cast<double>(g.numel());
  double total = 0.0;
  Tensor dg(g.shape());
  for (int64_t i = 0; i < g.numel(); ++i) {
    const double d = static_cast<double>(g[i]) - teacher_fsp[i];
    total += d * d;
    dg[i] = static_cast<float>(2.0 * d / count);
  }
  if (grad_first == nullptr && grad_second == nullptr) return total / count;

  // dA = dG B / positions and dB = dGᵀ A / positions, per sample.
  const FeatureLayout la = feature_layout(a.value().shape()), lb = feature_layout(b.value().shape());
  const int64_t positions = la.positions;
  Tensor ga(a.value().shape()), gb(b.value().shape());
  for (int64_t i = 0; i < la.batch; ++i) {
    const ConstMatrixMap fa(a.value().data() + i * la.channels * positions, la.channels, positions);
    const ConstMatrixMap fb(b.value().data() + i * lb.channels * positions, lb.channels, positions);
    const ConstMatrixMap d(dg.data() + i * la.channels * lb.channels, la.channels, lb.channels);
    MatrixMap(ga.data() + i * la.channels * positions, la.channels, positions) =
        d * fb / static_cast<float>(positions);
    MatrixMap(gb.data() + i * lb.channels * positions, lb.channels, positions) =
        d.transpose() * fa / static_cast<float>(positions);
  }
  if (grad_first != nullptr) {
    unpool_gradient(a, ga);
    *grad_first = std::move(ga);
  }
  if (grad_second != nullptr) {
    unpool_gradient(b, gb);
    *grad_second = std::move(gb);
  }
  return total / count;
}

namespace {

// Pairwise Euclidean distances of the rows of e, and their mean over distinct pairs (0 when
// every row is the same).
MatrixD pairwise_distances(const MatrixD& e, double& mean, int64_t& positive) {
  const int64_t n = e.rows();
  MatrixD d = MatrixD::Zero(n, n);
  double sum = 0.0;
  positive = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      if (i == j) continue;
      d(i, j) = (e.row(i) - e.row(j)).norm();
      if (d(i, j) > 0.0) {
        sum += d(i, j);
        ++positive;
      }
    }
  mean = positive > 0 ? sum / static_cast<double>(positive) : 0.0;
  return d;
}

// Unit vectors from row i to every row of e (zero rows where they coincide), and the lengths.
MatrixD directions_from(const MatrixD& e, int64_t i, Eigen::VectorXd& lengths) {
  MatrixD u = e.rowwise() - e.row(i);
  lengths = u.rowwise().norm();
  for (int64_t j = 0; j < u.rows(); ++j) {
    if (lengths(j) > kNormFloor) u.row(j) /= lengths(j);
    else u.row(j).setZero();
  }
  return u;
}

}  // namespace

double rkd_distance_loss(const Tensor& student, const Tensor& teacher, Tensor* grad) {
  require_same_batch(student, teacher, "rkd");
  const MatrixD s = rows_of(student), t = rows_of(teacher);
  const int64_t n = s.rows();
  if (grad != nullptr) {
    grad->resize(student.shape());
    grad->zero();
  }
  double mean_s = 0.0, mean_t = 0.0;
  int64_t positive_s = 0, positive_t = 0;
  const MatrixD ds = pairwise_distances(s, mean_s, positive_s);
  const MatrixD dt = pairwise_distances(t, mean_t, positive_t);
  if (positive_s == 0 || positive_t == 0) return 0.0;  // no distances to compare
  const double pairs = static_cast<double>(n * n);
  MatrixD slope(n, n);
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const double diff = ds(i, j) / mean_s - dt(i, j) / mean_t;
      total += huber(diff);
      slope(i, j) = huber_slope(diff) / pairs;
    }
  if (grad == nullptr) return total / pairs;

  // ψ_ij = d_ij / μ with μ the mean of the positive d: dL/dd_ij = g_ij / μ - Σ g·d / (μ² M).
  const double through_mean = (slope.array() * ds.array()).sum() / (mean_s * mean_s * static_cast<double>(positive_s));
  MatrixD ge = MatrixD::Zero(n, s.cols());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      if (ds(i, j) <= 0.0) continue;
      const double dd = slope(i, j) / mean_s - through_mean;
      const auto direction = (s.row(i) - s.row(j)) / ds(i, j);
      ge.row(i) += dd * direction;
      ge.row(j) -= dd * direction;
    }
  grad->matrix(n, s.cols()) = ge.cast<float>();
  return total / pairs;
}

double rkd_angle_loss(const Tensor& student, const Tensor& teacher, Tensor* grad) {
  require_same_batch(student, teacher, "rkd");
  const MatrixD s = rows_of(student), t = rows_of(teacher);
  const int64_t n = s.rows();
  const double triplets = static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
  MatrixD ge = MatrixD::Zero(n, s.cols());
  double total = 0.0;
  Eigen::VectorXd lengths_s, lengths_t;
  for (int64_t i = 0; i < n; ++i) {
    const MatrixD us = directions_from(s, i, lengths_s);
    const MatrixD ut = directions_from(t, i, lengths_t);
    const MatrixD diff = us * us.transpose() - ut * ut.transpose();  // cosines at vertex i
    total += diff.unaryExpr([](double x) { return huber(x); }).sum();
    if (grad == nullptr) continue;
    const MatrixD slope = diff.unaryExpr([](double x) { return huber_slope(x); }) / triplets;
    const MatrixD du = (slope + slope.transpose()) * us;
    for (int64_t j = 0; j < n; ++j) {
      if (lengths_s(j) <= kNormFloor) continue;
      // Through u = v / |v|: dv = (du - u (u · du)) / |v|, and v = e_j - e_i.
      const Eigen::RowVectorXd dv = (du.row(j) - us.row(j) * us.row(j).dot(du.row(j))) / lengths_s(j);
      ge.row(j) += dv;
      ge.row(i) -= dv;
    }
  }
  if (grad != nullptr) {
    grad->resize(student.shape());
    grad->matrix(n, s.cols()) = ge.cast<float>();
  }
  return total / triplets;
}

}  // namespace shrink::distill
