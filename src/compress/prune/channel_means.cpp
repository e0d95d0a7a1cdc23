// The mean input of the consumers that lose channels, measured on calibration batches in
// inference mode (running BatchNorm statistics, no dropout): what channel removal folds into
// their biases. Sums are kept in double so a constant channel's mean is that constant exactly.
#include "compress/prune/channel_importance.hpp"

#include "shrink/core/error.hpp"

namespace shrink {

ChannelDependencies::InputMeans mean_inputs(Model& model, const std::vector<std::string>& nodes,
                                            const CalibrationData& calibration) {
  require(calibration.data != nullptr && calibration.data->size() > 0,
          "measuring the removed channels' mean activations needs calibration data (--data)");
  std::vector<std::vector<double>> sums(nodes.size());
  int64_t samples = 0;
  for_each_calibration_batch(calibration, [&](const Tensor& x, const std::vector<int32_t>&) {
    model.forward(x, false);
    const int64_t n = x.dim(0);
    samples += n;
    for (size_t k = 0; k < nodes.size(); ++k) {
      const Tensor& v = model.value(model.node(nodes[k]).inputs[0]);
      const int64_t size = v.numel() / n;
      sums[k].resize(static_cast<size_t>(size), 0.0);
      for (int64_t s = 0; s < n; ++s)
        for (int64_t i = 0; i < size; ++i) sums[k][static_cast<size_t>(i)] += v[s * size + i];
    }
  });
  require(samples > 0, "the calibration data gave no batch to measure mean activations on");
  ChannelDependencies::InputMeans means;
  for (size_t k = 0; k < nodes.size(); ++k) {
    Tensor mean(model.node(model.node(nodes[k]).inputs[0]).output_shape);
    for (int64_t i = 0; i < mean.numel(); ++i)
      mean[i] = static_cast<float>(sums[k][static_cast<size_t>(i)] / static_cast<double>(samples));
    means[nodes[k]] = std::move(mean);
  }
  return means;
}

}  // namespace shrink
