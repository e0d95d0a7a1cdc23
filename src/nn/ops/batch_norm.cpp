// BatchNorm1d ([N, C] or [N, C, L]) and BatchNorm2d ([N, C, H, W]), PyTorch's semantics:
// training normalises with the batch statistics (biased variance) and moves the running
// statistics by `momentum` (running_var takes the unbiased variance); evaluation normalises
// with the running statistics. Both modes have an exact backward.
#include "nn/ops/op_support.hpp"
#include "nn/ops/ops.hpp"

#include <cmath>

namespace shrink::ops {
namespace {

enum ParamIndex { kWeight = 0, kBias = 1, kRunningMean = 2, kRunningVar = 3 };

// Channels are parallel only when there is enough work to cover the thread start-up.
constexpr int64_t kParallelBatchNorm = int64_t{1} << 15;

class BatchNorm final : public Op {
 public:
  BatchNorm(int spatial_dims, double eps, double momentum)
      : spatial_dims_(spatial_dims), eps_(eps), momentum_(momentum) {}

  std::string type() const override { return spatial_dims_ == 2 ? "BatchNorm2d" : "BatchNorm1d"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    require(inputs.size() == 1,
            type() + " takes 1 input, got " + std::to_string(inputs.size()));
    const Shape& in = inputs[0];
    if (spatial_dims_ == 2)
      require(in.size() == 4, "BatchNorm2d expects an input [N, C, H, W], got " + to_string(in));
    else
      require(in.size() == 2 || in.size() == 3,
              "BatchNorm1d expects an input [N, C] or [N, C, L], got " + to_string(in));
    require(in[1] > 0, type() + " needs at least one channel, got input " + to_string(in));
    return in;
  }

  std::vector<ParameterSpec> parameter_specs(const std::vector<Shape>& inputs) const override {
    const int64_t channels = output_shape(inputs)[1];
    return {
        {"weight", {channels}, Init::Ones, 1, true},
        {"bias", {channels}, Init::Zeros, 1, true},
        {"running_mean", {channels}, Init::Zeros, 1, false},
        {"running_var", {channels}, Init::Ones, 1, false},
    };
  }

  void forward(const OpArgs& args, Tensor& output) override {
    const Tensor& x = single_input(type(), args);
    const Dims d = check(args, x);
    require_same_numel(type(), output, "output", x, "input");
    const int64_t count = d.batch * d.spatial;  // values per channel
    if (args.training)
      require(count > 1, type() + " needs more than one value per channel in training mode, " +
                             "got input " + to_string(x.shape()));
    const float* weight = args.params[kWeight]->value.data();
    const float* bias = args.params[kBias]->value.data();
    float* running_mean = args.params[kRunningMean]->value.data();
    float* running_var = args.params[kRunningVar]->value.data();
    mean_.assign(static_cast<size_t>(d.channels), 0.0f);
    inv_std_.assign(static_cast<size_t>(d.channels), 0.0f);
    const bool training = args.training;
    const float momentum = static_cast<float>(momentum_);
    const double eps = eps_;

#pragma omp parallel for schedule(static) if (x.numel() > kParallelBatchNorm)
    for (int64_t c = 0; c < d.channels; ++c) {
      double mean;
      double var;
      if (training) {
        // Two passes (mean, then squared deviations) keep the variance accurate when the
        // mean is large compared with the spread.
        double sum = 0.0;
        for (int64_t n = 0; n < d.batch; ++n) sum += segment(x.data(), d, n, c).sum();
        mean = sum / static_cast<double>(count);
        const float mean_f = static_cast<float>(mean);
        double squares = 0.0;
        for (int64_t n = 0; n < d.batch; ++n)
          squares += (segment(x.data(), d, n, c) - mean_f).square().sum();
        var = squares / static_cast<double>(count);
        const double unbiased = squares / static_cast<double>(count - 1);
        running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * static_cast<float>(mean);
        running_var[c] =
            (1.0f - momentum) * running_var[c] + momentum * static_cast<float>(unbiased);
      } else {
        mean = running_mean[c];
        var = running_var[c];
      }
      const double inv_std = 1.0 / std::sqrt(var + eps);
      mean_[static_cast<size_t>(c)] = static_cast<float>(mean);
      inv_std_[static_cast<size_t>(c)] = static_cast<float>(inv_std);
      const float scale = static_cast<float>(weight[c] * inv_std);
      const float shift = static_cast<float>(bias[c] - mean * weight[c] * inv_std);
      for (int64_t n = 0; n < d.batch; ++n)
        segment(output.data(), d, n, c) = segment(x.data(), d, n, c) * scale + shift;
    }
  }

  // With x_hat = (x - mean) * inv_std and y = weight * x_hat + bias:
  //   d bias = sum(dy), d weight = sum(dy * x_hat), and
  //   training: dx = weight * inv_std / M * (M dy - sum(dy) - x_hat * sum(dy * x_hat)),
  //   eval:     dx = weight * inv_std * dy (the running statistics are constants).
  void backward(const OpArgs& args, const Tensor& output, const Tensor& grad_output,
                const std::vector<Tensor*>& grad_inputs) override {
    (void)output;
    const Tensor& x = single_input(type(), args);
    const Dims d = check(args, x);
    require_same_numel(type(), grad_output, "output gradient", x, "input");
    if (static_cast<int64_t>(mean_.size()) != d.channels)
      throw Error::internal(type() + ": backward called without a matching forward");
    Parameter& weight_param = *args.params[kWeight];
    Parameter& bias_param = *args.params[kBias];
    const bool weight_grad = weight_param.trainable;
    const bool bias_grad = bias_param.trainable;
    for (const Parameter* p : {&weight_param, &bias_param})
      if (p->trainable && p->grad.numel() != d.channels)
        throw Error::internal(type() + ": gradient of parameter " + p->name +
                              " is not allocated (shape " + to_string(p->grad.shape()) + ")");
    Tensor* gx = grad_inputs.empty() ? nullptr : grad_inputs[0];
    if (gx != nullptr) gx->resize(x.shape());
    const float* weight = weight_param.value.data();
    const bool training = args.training;
    const float count = static_cast<float>(d.batch * d.spatial);

#pragma omp parallel for schedule(static) if (x.numel() > kParallelBatchNorm)
    for (int64_t c = 0; c < d.channels; ++c) {
      const float mean = mean_[static_cast<size_t>(c)];
      const float inv_std = inv_std_[static_cast<size_t>(c)];
      double sum_dy = 0.0;
      double sum_dy_xhat = 0.0;
      for (int64_t n = 0; n < d.batch; ++n) {
        const auto dy = segment(grad_output.data(), d, n, c);
        sum_dy += dy.sum();
        sum_dy_xhat += (dy * ((segment(x.data(), d, n, c) - mean) * inv_std)).sum();
      }
      if (weight_grad) weight_param.grad[c] += static_cast<float>(sum_dy_xhat);
      if (bias_grad) bias_param.grad[c] += static_cast<float>(sum_dy);
      if (gx == nullptr) continue;
      const float k = weight[c] * inv_std;
      if (training) {
        const float mean_dy = static_cast<float>(sum_dy / count);
        const float mean_dy_xhat = static_cast<float>(sum_dy_xhat / count);
        for (int64_t n = 0; n < d.batch; ++n)
          segment(gx->data(), d, n, c) =
              k * (segment(grad_output.data(), d, n, c) - mean_dy -
                   (segment(x.data(), d, n, c) - mean) * (inv_std * mean_dy_xhat));
      } else {
        for (int64_t n = 0; n < d.batch; ++n)
          segment(gx->data(), d, n, c) = k * segment(grad_output.data(), d, n, c);
      }
    }
  }

  Json attributes() const override { return {{"eps", eps_}, {"momentum", momentum_}}; }

 private:
  struct Dims {
    int64_t batch = 0;
    int64_t channels = 0;
    int64_t spatial = 1;  // L, or H * W
  };

  // The `spatial` values of sample n, channel c: contiguous in NC... layout.
  static Eigen::Map<Eigen::ArrayXf> segment(float* data, const Dims& d, int64_t n, int64_t c) {
    return Eigen::Map<Eigen::ArrayXf>(data + (n * d.channels + c) * d.spatial, d.spatial);
  }
  static Eigen::Map<const Eigen::ArrayXf> segment(const float* data, const Dims& d, int64_t n,
                                                  int64_t c) {
    return Eigen::Map<const Eigen::ArrayXf>(data + (n * d.channels + c) * d.spatial, d.spatial);
  }

  Dims check(const OpArgs& args, const Tensor& x) const {
    output_shape({x.shape()});
    Dims d;
    d.batch = x.dim(0);
    d.channels = x.dim(1);
    for (size_t axis = 2; axis < x.rank(); ++axis) d.spatial *= x.dim(axis);
    static const char* const kNames[] = {"weight", "bias", "running_mean", "running_var"};
    require(args.params.size() == 4,
            type() + " needs 4 parameters (weight, bias, running_mean, running_var), got " +
                std::to_string(args.params.size()));
    for (size_t j = 0; j < 4; ++j) {
      if (args.params[j] == nullptr)
        throw Error::internal(type() + ": parameter " + kNames[j] + " is missing");
      require(args.params[j]->value.shape() == Shape{d.channels},
              type() + ": parameter " + kNames[j] + " has shape " +
                  to_string(args.params[j]->value.shape()) + " but the input " +
                  to_string(x.shape()) + " has " + std::to_string(d.channels) + " channels");
    }
    return d;
  }

  int spatial_dims_;
  double eps_;
  double momentum_;
  // Per-channel statistics the last forward normalised with, for backward.
  std::vector<float> mean_;
  std::vector<float> inv_std_;
};

std::unique_ptr<Op> make_batch_norm(int spatial_dims, const Json& attributes) {
  const std::string name = spatial_dims == 2 ? "BatchNorm2d" : "BatchNorm1d";
  reject_unknown_attributes(name, attributes, {"eps", "momentum"});
  const double eps = attributes.value("eps", 1e-5);
  const double momentum = attributes.value("momentum", 0.1);
  require(eps > 0.0 && std::isfinite(eps),
          name + ": eps must be a positive number, got " + Json(eps).dump());
  require(momentum >= 0.0 && momentum <= 1.0,
          name + ": momentum must be in [0, 1], got " + Json(momentum).dump());
  return std::make_unique<BatchNorm>(spatial_dims, eps, momentum);
}

}  // namespace

std::unique_ptr<Op> make_batch_norm1d(const Json& attributes) {
  return make_batch_norm(1, attributes);
}

std::unique_ptr<Op> make_batch_norm2d(const Json& attributes) {
  return make_batch_norm(2, attributes);
}

}  // namespace shrink::ops
