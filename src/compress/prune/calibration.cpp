#include "compress/prune/calibration.hpp"

#include "shrink/nn/loss.hpp"
#include "shrink/train/evaluator.hpp"

#include <algorithm>
#include <cmath>

namespace shrink {

CalibrationOptions CalibrationOptions::read(PassOptions& options, const std::string& what) {
  CalibrationOptions c;
  c.samples = options.get<int64_t>("samples", c.samples);
  c.batch = options.get<int64_t>("batch", c.batch);
  require(c.samples > 0, what + ": samples must be positive, got " + std::to_string(c.samples));
  require(c.batch > 0, what + ": batch must be positive, got " + std::to_string(c.batch));
  return c;
}

nlohmann::json CalibrationOptions::to_json() const {
  return {{"samples", samples}, {"batch", batch}};
}

void for_each_calibration_batch(
    const Model& model, const PassContext& context, const CalibrationOptions& options,
    int64_t batch,
    const std::function<void(const Tensor&, const std::vector<int32_t>&)>& body) {
  require(context.train != nullptr,
          "this criterion looks at the loss on training data; give it some (--data)");
  const Dataset& data = *context.train;
  require_compatible(model, data);
  const int64_t total = std::min(options.samples, data.size());
  BatchSampler sampler(data.size(), batch, /*shuffle=*/true, context.finetune.seed);
  std::vector<int64_t> indices;
  std::vector<int32_t> labels;
  Tensor x;
  int64_t done = 0;
  while (done < total && sampler.next(indices)) {
    if (static_cast<int64_t>(indices.size()) > total - done)
      indices.resize(static_cast<size_t>(total - done));
    data.gather(indices, x, labels);
    body(x, labels);
    done += static_cast<int64_t>(indices.size());
  }
}

double loss_gradients(Model& model, const Tensor& x, const std::vector<int32_t>& labels,
                      bool training) {
  Tensor grad_logits;
  const double loss = cross_entropy(model.forward(x, training), labels, 0.0f, &grad_logits);
  model.backward(grad_logits, /*accumulate=*/false);
  return loss;
}

std::vector<Parameter*> same_weights(Model& copy, const std::vector<Parameter*>& weights) {
  std::vector<Parameter*> result;
  for (const Parameter* p : weights) result.push_back(&copy.parameter(p->name));
  return result;
}

std::vector<Tensor> zeros_like(const std::vector<Parameter*>& weights) {
  std::vector<Tensor> result;
  for (const Parameter* p : weights) result.emplace_back(p->value.shape());
  return result;
}

}  // namespace shrink
