// hint: FitNets (Romero et al., "FitNets: Hints for Thin Deep Nets", 2015). A student layer (the
// guided layer) learns to predict a teacher layer (the hint) through a regressor — a 1x1
// convolution between feature maps, a linear layer between vectors — trained alongside the
// student with the same optimizer settings and dropped after training. The loss is
// weight · mean((regressor(student) - teacher)²).
#include "compress/distill/distillation_term.hpp"
#include "compress/distill/losses.hpp"
#include "compress/terms.hpp"
#include "shrink/train/optimizer.hpp"

#include <cmath>

namespace shrink {
namespace {

// The loss is a mean over the feature's elements, so its size does not grow with the layer's,
// but its curvature grows with the weight and with the energy of the guided layer's input. At
// the usual lr 0.01, weight 100 (RepDistiller's, for batch-normalised ResNet features) diverged
// within the first 13 batches on Fashion-MNIST for both students measured (MLP 784-64-10 at fc1,
// LeNet-5 with a 32-wide hidden layer at conv2; docs/benchmarks.md) and 10 trained on both. At
// weight 1 the hint starts about as large as the cross-entropy (LeNet-5's fc1 and conv2 have a
// mean square of 2.8 and 1.8, the cross-entropy of 10 classes ln 10 = 2.3).
constexpr double kDefaultWeight = 1.0;

class Hint final : public DistillationTerm {
 public:
  explicit Hint(const nlohmann::json& json) {
    PassOptions options("term hint", json);
    student_node_ = options.get<std::string>("student", "");
    teacher_node_ = options.get<std::string>("teacher", "");
    weight_ = options.get<double>("weight", kDefaultWeight);
    use_regressor_ = options.get<bool>("regressor", true);
    read_teacher_index(options);
    options.finish();
    require(!student_node_.empty() && !teacher_node_.empty(),
            "term hint needs the student's and the teacher's node: hint:student=NODE,teacher=NODE");
    require(std::isfinite(weight_) && weight_ >= 0.0,
            "term hint: weight must be a finite non-negative number, got " + std::to_string(weight_));
  }

  std::string name() const override { return "hint"; }
  nlohmann::json options() const override {
    return {{"student", student_node_}, {"teacher", teacher_node_}, {"weight", weight_},
            {"regressor", use_regressor_}, {"teacher_index", teacher_index_option()}};
  }

  void begin(Model& model, const TrainConfig& config, int64_t) override {
    begin_teachers(model);
    const Shape s = require_node(model, student_node_, "the student").output_shape;
    const Shape t = require_node(teacher(), teacher_node_, teacher_label()).output_shape;
    const std::string shapes = "the student's node " + student_node_ + " gives " + to_string(s) +
                               " per sample and the teacher's node " + teacher_node_ + " gives " +
                               to_string(t);
    if (!use_regressor_) {
      require(s == t, "term hint: " + shapes + "; without a regressor they must be equal");
      return;
    }
    nlohmann::json op;
    std::string type;
    if (s.size() == 1 && t.size() == 1) {
      type = "Linear";
      op = {{"out_features", t[0]}};
    } else if (s.size() == 3 && t.size() == 3 && s[1] == t[1] && s[2] == t[2]) {
      type = "Conv2d";
      op = {{"out_channels", t[0]}, {"kernel_size", 1}, {"stride", 1}, {"padding", 0}, {"bias", true}};
    } else {
      throw Error::bad_input("term hint: " + shapes + "; a hint joins two vectors [D] or two feature "
                             "maps [C, H, W] of the same height and width");
    }
    regressor_ = Model();
    regressor_.set_input("student", s);
    regressor_.add_node("regressor", make_op(type, op));
    regressor_.initialize(config.seed);
    parameters_ = regressor_.parameters();
    optimizer_ = make_optimizer(config.optimizer, config.optimizer_options());
  }

  double add_loss(Model& model, const TrainStep& step, const Tensor&, Tensor&,
                  ActivationGradients& activation_grads) override {
    run_teachers(step);
    const Tensor& student = model.value(student_node_);
    const Tensor& target = teacher().value(teacher_node_);
    if (!use_regressor_) {
      const double loss = distill::mean_squared_error(student, target, &gradient_);
      gradient_.flat() *= static_cast<float>(weight_);
      add_activation_gradient(activation_grads, student_node_, gradient_);
      return weight_ * loss;
    }
    Op& op = *regressor_.nodes().front().op;
    OpArgs args;
    args.inputs = {&student};
    args.params = parameters_;
    args.training = true;
    predicted_.resize(op.output_shape({student.shape()}));
    op.forward(args, predicted_);
    const double loss = distill::mean_squared_error(predicted_, target, &gradient_);
    gradient_.flat() *= static_cast<float>(weight_);
    for (Parameter* p : parameters_) {
      if (p->grad.shape() != p->value.shape()) p->grad = Tensor(p->value.shape());
      p->grad.zero();
    }
    op.backward(args, predicted_, gradient_, {&student_gradient_});
    add_activation_gradient(activation_grads, student_node_, student_gradient_);
    return weight_ * loss;
  }

  // The regressor learns at the student's learning rate, after the student's step.
  void after_step(Model&, const TrainStep& step) override {
    if (!optimizer_) return;
    optimizer_->set_learning_rate(step.lr);
    optimizer_->step(parameters_);
  }

 private:
  std::string student_node_, teacher_node_;
  double weight_ = kDefaultWeight;
  bool use_regressor_ = true;
  Model regressor_;
  std::vector<Parameter*> parameters_;
  std::unique_ptr<Optimizer> optimizer_;
  Tensor predicted_, gradient_, student_gradient_;
};

}  // namespace

std::shared_ptr<TrainingTerm> make_hint(const nlohmann::json& options) {
  return std::make_shared<Hint>(options);
}

}  // namespace shrink
