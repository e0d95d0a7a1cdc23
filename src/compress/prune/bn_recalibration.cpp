// BatchNorm recalibration: one pass over the calibration batches in training mode, pooling each
// BatchNorm input's per-channel sum and sum of squares in double, then the pooled mean and
// unbiased variance become the running statistics (the forward passes' own momentum updates are
// overwritten).
#include "compress/prune/bn_recalibration.hpp"

#include "shrink/core/error.hpp"

namespace shrink {
namespace {

struct Moments {
  std::vector<double> sum, squares;
  double count = 0.0;  // values per channel
};

}  // namespace

std::vector<std::string> recalibrate_batch_norms(Model& model, const CalibrationData& calibration) {
  require(calibration.data != nullptr && calibration.data->size() > 0,
          "recalibrating BatchNorm statistics needs calibration data (--data)");
  std::vector<const Node*> norms;
  for (const Node& node : model.nodes()) {
    const std::string type = node.op->type();
    if ((type == "BatchNorm1d" || type == "BatchNorm2d") && model.find_parameter(node.name + ".running_mean"))
      norms.push_back(&node);
    if (node.name == model.output_name()) break;
  }
  std::vector<Moments> moments(norms.size());
  for_each_calibration_batch(calibration, [&](const Tensor& x, const std::vector<int32_t>&) {
    model.forward(x, true);
    for (size_t k = 0; k < norms.size(); ++k) {
      const Tensor& v = model.value(norms[k]->inputs[0]);
      const int64_t n = v.dim(0), channels = v.rank() > 1 ? v.dim(1) : 1;
      const int64_t inner = v.numel() / (n * channels);
      Moments& m = moments[k];
      m.sum.resize(static_cast<size_t>(channels), 0.0);
      m.squares.resize(static_cast<size_t>(channels), 0.0);
      m.count += static_cast<double>(n * inner);
      for (int64_t s = 0; s < n; ++s)
        for (int64_t c = 0; c < channels; ++c) {
          const float* p = v.data() + (s * channels + c) * inner;
          double sum = 0.0, squares = 0.0;
          for (int64_t i = 0; i < inner; ++i) {
            sum += p[i];
            squares += static_cast<double>(p[i]) * p[i];
          }
          m.sum[static_cast<size_t>(c)] += sum;
          m.squares[static_cast<size_t>(c)] += squares;
        }
    }
  });
  std::vector<std::string> names;
  for (size_t k = 0; k < norms.size(); ++k) {
    const Moments& m = moments[k];
    if (m.count < 2.0) continue;
    Parameter& mean = model.parameter(norms[k]->name + ".running_mean");
    Parameter& var = model.parameter(norms[k]->name + ".running_var");
    for (size_t c = 0; c < m.sum.size(); ++c) {
      const double mu = m.sum[c] / m.count;
      const double unbiased = std::max(0.0, (m.squares[c] - m.count * mu * mu) / (m.count - 1.0));
      mean.value[static_cast<int64_t>(c)] = static_cast<float>(mu);
      var.value[static_cast<int64_t>(c)] = static_cast<float>(unbiased);
    }
    mean.mark_changed();
    var.mark_changed();
    names.push_back(norms[k]->name);
  }
  return names;
}

}  // namespace shrink
