// kd: Hinton, Vinyals & Dean, "Distilling the Knowledge in a Neural Network" (2015). The student
// matches the teachers' outputs softened by a temperature T — weighted by their teacher weights
// when there are several — through α · T² · KL(teachers || student), and the hard-label
// cross-entropy keeps the weight 1 - α.
#include "compress/distill/distillation_term.hpp"
#include "compress/distill/losses.hpp"
#include "compress/terms.hpp"

#include <cmath>

namespace shrink {
namespace {

class KnowledgeDistillation final : public DistillationTerm {
 public:
  explicit KnowledgeDistillation(const nlohmann::json& json) {
    PassOptions options("term kd", json);
    temperature_ = options.get<double>("T", 4.0);
    alpha_ = options.get<double>("alpha", 0.9);
    options.finish();
    require(std::isfinite(temperature_) && temperature_ > 0.0,
            "term kd: the temperature T must be a positive number, got " + std::to_string(temperature_));
    require(alpha_ >= 0.0 && alpha_ <= 1.0,
            "term kd: alpha (the soft targets' share of the loss) must lie in [0, 1], got " +
                std::to_string(alpha_));
  }

  std::string name() const override { return "kd"; }
  nlohmann::json options() const override { return {{"T", temperature_}, {"alpha", alpha_}}; }
  double hard_label_weight() const override { return 1.0 - alpha_; }

  void begin(Model& model, const TrainConfig&, int64_t) override {
    begin_teachers(model);
    for (size_t i = 0; i < teachers_->size(); ++i)
      require(teachers_->model(i).output_shape() == model.output_shape(),
              "teacher " + teachers_->name(i) + " gives outputs of shape " +
                  to_string(teachers_->model(i).output_shape()) + " but the student gives " +
                  to_string(model.output_shape()) + "; soft targets need the same classes");
  }

  double add_loss(Model&, const TrainStep& step, const Tensor& logits, Tensor& grad_logits,
                  ActivationGradients&) override {
    run_teachers(step);
    target_.resize(logits.shape());
    target_.zero();
    for (size_t i = 0; i < teachers_->size(); ++i)
      target_.flat() += static_cast<float>(teachers_->weight(i)) *
                        distill::softened(teachers_->output(i), temperature_).flat();
    const double loss = distill::kd_loss(logits, target_, temperature_, &gradient_);
    grad_logits.flat() += static_cast<float>(alpha_) * gradient_.flat();
    return alpha_ * loss;
  }

 private:
  double temperature_ = 4.0;
  double alpha_ = 0.9;
  Tensor target_, gradient_;
};

}  // namespace

std::shared_ptr<TrainingTerm> make_knowledge_distillation(const nlohmann::json& options) {
  return std::make_shared<KnowledgeDistillation>(options);
}

}  // namespace shrink
