// rkd: relational knowledge distillation (Park et al., "Relational Knowledge Distillation",
// 2019). Instead of each sample's output, the student matches the structure of the batch in the
// teacher's embedding space: the pairwise distances (each divided by their mean) and the angles
// of every triplet, through Huber losses weighted by `distance` and `angle` (the paper's 25 and
// 50). The two embeddings may differ in width; by default they are the networks' outputs.
#include "compress/distill/distillation_term.hpp"
#include "compress/distill/losses.hpp"
#include "compress/terms.hpp"

#include <cmath>

namespace shrink {
namespace {

class RelationalDistillation final : public DistillationTerm {
 public:
  explicit RelationalDistillation(const nlohmann::json& json) {
    PassOptions options("term rkd", json);
    student_option_ = options.get<std::string>("student", "");
    teacher_option_ = options.get<std::string>("teacher", "");
    distance_weight_ = options.get<double>("distance", 25.0);
    angle_weight_ = options.get<double>("angle", 50.0);
    read_teacher_index(options);
    options.finish();
    for (double w : {distance_weight_, angle_weight_})
      require(std::isfinite(w) && w >= 0.0,
              "term rkd: the distance and angle weights must be finite non-negative numbers, got " +
                  std::to_string(w));
  }

  std::string name() const override { return "rkd"; }
  nlohmann::json options() const override {
    return {{"student", student_option_}, {"teacher", teacher_option_},
            {"distance", distance_weight_}, {"angle", angle_weight_},
            {"teacher_index", teacher_index_option()}};
  }

  void begin(Model& model, const TrainConfig&, int64_t) override {
    begin_teachers(model);
    student_node_ = student_option_.empty() ? model.output_name() : student_option_;
    teacher_node_ = teacher_option_.empty() ? teacher().output_name() : teacher_option_;
    require_node(model, student_node_, "the student");
    require_node(teacher(), teacher_node_, teacher_label());
  }

  double add_loss(Model& model, const TrainStep& step, const Tensor&, Tensor&,
                  ActivationGradients& activation_grads) override {
    run_teachers(step);
    const Tensor& student = model.value(student_node_);
    const Tensor& teacher_embedding = teacher().value(teacher_node_);
    double loss = 0.0;
    gradient_.resize(student.shape());
    gradient_.zero();
    if (distance_weight_ > 0.0) {
      loss += distance_weight_ * distill::rkd_distance_loss(student, teacher_embedding, &part_);
      gradient_.flat() += static_cast<float>(distance_weight_) * part_.flat();
    }
    if (angle_weight_ > 0.0) {
      loss += angle_weight_ * distill::rkd_angle_loss(student, teacher_embedding, &part_);
      gradient_.flat() += static_cast<float>(angle_weight_) * part_.flat();
    }
    add_activation_gradient(activation_grads, student_node_, gradient_);
    return loss;
  }

 private:
  std::string student_option_, teacher_option_;
  std::string student_node_, teacher_node_;
  double distance_weight_ = 25.0;
  double angle_weight_ = 50.0;
  Tensor gradient_, part_;
};

}  // namespace

std::shared_ptr<TrainingTerm> make_relational_distillation(const nlohmann::json& options) {
  return std::make_shared<RelationalDistillation>(options);
}

}  // namespace shrink
