#pragma once
// The math of the distillation losses as pure functions of activations: each returns the loss
// (unweighted, a mean over the batch) and, when `grad` is not null, writes d loss / d input
// (resized to the input's shape). The training terms in this folder only read activations,
// call these, weight the result and route the gradient. Sums run in double.
#include "shrink/core/tensor.hpp"

namespace shrink::distill {

// softmax(logits / T) row by row, for logits [N, K].
Tensor softened(const Tensor& logits, double temperature);

// Hinton et al. 2015: T² · mean over the batch of KL(target || softmax(student / T)), where
// `target` [N, K] holds the teachers' softened probabilities (rows summing to 1). The T² keeps
// the gradient's size independent of T: d/d student = T · (softmax(student / T) - target) / N.
double kd_loss(const Tensor& student_logits, const Tensor& target, double temperature,
               Tensor* grad);

// Mean over every element of (a - b)², the FitNets hint loss; the gradient is for `a`.
double mean_squared_error(const Tensor& a, const Tensor& b, Tensor* grad);

// A feature map [N, C, spatial...] (rank >= 3) or a vector [N, C] (one position) seen as
// N samples of C channels over `positions` places, with the spatial extent (empty for vectors).
struct FeatureLayout {
  int64_t batch = 0;
  int64_t channels = 0;
  int64_t positions = 1;
  Shape spatial;
};
FeatureLayout feature_layout(const Shape& shape);

// PyTorch's adaptive_avg_pool2d over planes [planes, H, W] -> [planes, h, w] (h <= H, w <= W):
// output (i, j) averages input rows floor(i·H/h) .. ceil((i+1)·H/h) - 1 and the same columns.
void adaptive_average_pool(const float* input, int64_t planes, int64_t height, int64_t width,
                           float* output, int64_t out_height, int64_t out_width);
// Its backward: spreads each output gradient evenly over its window (grad_input is set).
void adaptive_average_pool_backward(const float* grad_output, int64_t planes, int64_t height,
                                    int64_t width, float* grad_input, int64_t out_height,
                                    int64_t out_width);

// Where two feature maps of different spatial sizes meet (attention, FSP), the larger one is
// first average-pooled to the smaller one's size (adaptive_average_pool per channel), as
// RepDistiller does; both must then be [N, C, H, W] and one no larger than the other in H and W.

// Zagoruyko & Komodakis 2017: the spatial attention map of features [N, C, spatial...],
// Q = Σ_c |a_c|^p per sample, L2-normalised over positions: [N, positions].
Tensor attention_map(const Tensor& features, double p);
// mean over samples and positions of (q_student - q_teacher)², with q = attention_map(...) of
// the two feature maps at a common size. The gradient is for the student's features.
double attention_loss(const Tensor& student, const Tensor& teacher, double p, Tensor* grad);

// Yim et al. 2017: the flow-of-solution-procedure matrix of two layers of one network,
// G[n, i, j] = Σ_s first[n, i, s] · second[n, j, s] / positions, over the positions of the
// smaller map (the larger one is average-pooled to it). Result [N, C1, C2].
Tensor fsp_matrix(const Tensor& first, const Tensor& second);
// mean over elements of (G_student - G_teacher)² with G_teacher given; gradients for the
// student's two feature maps (either may be null).
double fsp_loss(const Tensor& first, const Tensor& second, const Tensor& teacher_fsp,
                Tensor* grad_first, Tensor* grad_second);

// Park et al. 2019, relational KD over the batch's embeddings (rows of [N, ...], flattened):
// distance-wise, the Huber loss (δ = 1) between the pairwise distances of the student's and of
// the teacher's embeddings, each divided by its mean over distinct pairs, averaged over all N²
// pairs; angle-wise, the Huber loss between the cosines of the angles each triplet (i, j, k)
// makes at i, e_ij · e_ik with e_ij the unit vector from i to j, averaged over all N³ triplets.
// The embeddings may differ in width; the gradient is for the student's.
double rkd_distance_loss(const Tensor& student, const Tensor& teacher, Tensor* grad);
double rkd_angle_loss(const Tensor& student, const Tensor& teacher, Tensor* grad);

}  // namespace shrink::distill
