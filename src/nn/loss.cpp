#include "shrink/nn/loss.hpp"

#include "shrink/core/error.hpp"

#include <cmath>
#include <string>

namespace shrink {

float cross_entropy(const Tensor& logits, const std::vector<int32_t>& labels,
                    float label_smoothing, Tensor* grad_logits) {
  // Each message is built only when its check fails: evaluation calls this once per batch,
  // and at batch 1 building them cost more than the loss.
  if (logits.rank() != 2)
    throw Error::bad_input("cross_entropy expects logits [N, K], got shape " +
                           to_string(logits.shape()));
  const int64_t batch = logits.dim(0);
  const int64_t classes = logits.dim(1);
  if (!(batch > 0 && classes > 0))
    throw Error::bad_input("cross_entropy needs at least one sample and one class, got logits " +
                           to_string(logits.shape()));
  if (static_cast<int64_t>(labels.size()) != batch)
    throw Error::bad_input("cross_entropy got " + std::to_string(labels.size()) +
                           " labels for logits " + to_string(logits.shape()) +
                           "; expected one label per row");
  if (!(label_smoothing >= 0.0f && label_smoothing <= 1.0f))
    throw Error::bad_input("cross_entropy: label_smoothing must be in [0, 1], got " +
                           std::to_string(label_smoothing));
  for (int64_t i = 0; i < batch; ++i) {
    const int32_t label = labels[static_cast<size_t>(i)];
    if (!(label >= 0 && label < classes))
      throw Error::bad_input("cross_entropy: label " + std::to_string(label) + " of sample " +
                             std::to_string(i) + " is outside the " + std::to_string(classes) +
                             " classes [0, " + std::to_string(classes - 1) + "]");
  }

  const ConstMatrixMap z = logits.matrix(batch, classes);
  if (grad_logits != nullptr) grad_logits->resize({batch, classes});
  const double on_target = 1.0 - label_smoothing;
  const double off_target = static_cast<double>(label_smoothing) / static_cast<double>(classes);
  const float inv_batch = 1.0f / static_cast<float>(batch);

  Eigen::ArrayXf shifted(classes);  // exp(z - max) of one row
  double total = 0.0;
  for (int64_t i = 0; i < batch; ++i) {
    const int32_t label = labels[static_cast<size_t>(i)];
    const auto row = z.row(i).array().transpose();
    const float max = row.maxCoeff();
    shifted = (row - max).exp();
    const double sum_exp = static_cast<double>(shifted.sum());
    const double log_sum_exp = static_cast<double>(max) + std::log(sum_exp);
    // loss_i = -sum_k target_k * log_softmax_k, and the targets sum to 1.
    const double log_p_label = static_cast<double>(row(label)) - log_sum_exp;
    const double mean_log_p =
        static_cast<double>(row.sum()) / static_cast<double>(classes) - log_sum_exp;
    total -= on_target * log_p_label + static_cast<double>(label_smoothing) * mean_log_p;

    if (grad_logits != nullptr) {
      auto g = grad_logits->matrix(batch, classes).row(i).array().transpose();
      g = (shifted * static_cast<float>(1.0 / sum_exp) - static_cast<float>(off_target)) *
          inv_batch;
      g(label) -= static_cast<float>(on_target) * inv_batch;
    }
  }
  return static_cast<float>(total / static_cast<double>(batch));
}

}  // namespace shrink
