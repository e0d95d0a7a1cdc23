// fsp: the flow of solution procedure (Yim et al., "A Gift from Knowledge Distillation", 2017).
// The FSP matrix of two layers, G[i, j] = Σ over positions of first[i] · second[j] / positions,
// captures how one layer's features turn into the next's; the student's, between two of its
// layers, matches the teacher's between two layers with the same channel counts. The loss is
// weight · mean((G_student - G_teacher)²). Layers of different spatial sizes are compared after
// average-pooling the larger to the smaller.
#include "compress/distill/distillation_term.hpp"
#include "compress/distill/losses.hpp"
#include "compress/terms.hpp"

#include <cmath>

namespace shrink {
namespace {

class FlowOfSolutionProcedure final : public DistillationTerm {
 public:
  explicit FlowOfSolutionProcedure(const nlohmann::json& json) {
    PassOptions options("term fsp", json);
    student_from_ = options.get<std::string>("student_from", "");
    student_to_ = options.get<std::string>("student_to", "");
    teacher_from_ = options.get<std::string>("teacher_from", "");
    teacher_to_ = options.get<std::string>("teacher_to", "");
    weight_ = options.get<double>("weight", 50.0);
    read_teacher_index(options);
    options.finish();
    require(!student_from_.empty() && !student_to_.empty() && !teacher_from_.empty() &&
                !teacher_to_.empty(),
            "term fsp needs two layers of each network: "
            "fsp:student_from=NODE,student_to=NODE,teacher_from=NODE,teacher_to=NODE");
    require(std::isfinite(weight_) && weight_ >= 0.0,
            "term fsp: weight must be a finite non-negative number, got " + std::to_string(weight_));
  }

  std::string name() const override { return "fsp"; }
  nlohmann::json options() const override {
    return {{"student_from", student_from_}, {"student_to", student_to_},
            {"teacher_from", teacher_from_}, {"teacher_to", teacher_to_},
            {"weight", weight_}, {"teacher_index", teacher_index_option()}};
  }

  void begin(Model& model, const TrainConfig&, int64_t) override {
    begin_teachers(model);
    const Node& sf = require_node(model, student_from_, "the student");
    const Node& st = require_node(model, student_to_, "the student");
    const Node& tf = require_node(teacher(), teacher_from_, teacher_label());
    const Node& tt = require_node(teacher(), teacher_to_, teacher_label());
    // One sample of zeros runs the shape checks before any training.
    try {
      const Tensor teacher_fsp =
          distill::fsp_matrix(Tensor(batched_shape(tf)), Tensor(batched_shape(tt)));
      distill::fsp_loss(Tensor(batched_shape(sf)), Tensor(batched_shape(st)), teacher_fsp,
                        nullptr, nullptr);
    } catch (Error& e) {
      throw e.add_context("term fsp between the student's nodes " + student_from_ + " and " +
                          student_to_ + " and the teacher's " + teacher_from_ + " and " + teacher_to_);
    }
  }

  double add_loss(Model& model, const TrainStep& step, const Tensor&, Tensor&,
                  ActivationGradients& activation_grads) override {
    run_teachers(step);
    const Tensor teacher_fsp =
        distill::fsp_matrix(teacher().value(teacher_from_), teacher().value(teacher_to_));
    const double loss = distill::fsp_loss(model.value(student_from_), model.value(student_to_),
                                          teacher_fsp, &grad_from_, &grad_to_);
    grad_from_.flat() *= static_cast<float>(weight_);
    grad_to_.flat() *= static_cast<float>(weight_);
    add_activation_gradient(activation_grads, student_from_, grad_from_);
    add_activation_gradient(activation_grads, student_to_, grad_to_);
    return weight_ * loss;
  }

 private:
  std::string student_from_, student_to_, teacher_from_, teacher_to_;
  double weight_ = 50.0;
  Tensor grad_from_, grad_to_;
};

}  // namespace

std::shared_ptr<TrainingTerm> make_flow_of_solution_procedure(const nlohmann::json& options) {
  return std::make_shared<FlowOfSolutionProcedure>(options);
}

}  // namespace shrink
