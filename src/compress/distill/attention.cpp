// attention: attention transfer (Zagoruyko & Komodakis, "Paying More Attention to Attention",
// 2017). The student's spatial attention map at a layer — Σ over channels of |a|^p, normalised —
// matches the teacher's at a layer of the same (or, after average pooling, a comparable) spatial
// size; the channel counts may differ. The loss is weight/2 · mean((q_student - q_teacher)²),
// the paper's β/2 with β = 1000.
#include "compress/distill/distillation_term.hpp"
#include "compress/distill/losses.hpp"
#include "compress/terms.hpp"

#include <cmath>

namespace shrink {
namespace {

class AttentionTransfer final : public DistillationTerm {
 public:
  explicit AttentionTransfer(const nlohmann::json& json) {
    PassOptions options("term attention", json);
    student_node_ = options.get<std::string>("student", "");
    teacher_node_ = options.get<std::string>("teacher", "");
    p_ = options.get<double>("p", 2.0);
    weight_ = options.get<double>("weight", 1000.0);
    read_teacher_index(options);
    options.finish();
    require(!student_node_.empty() && !teacher_node_.empty(),
            "term attention needs the student's and the teacher's node: "
            "attention:student=NODE,teacher=NODE");
    require(std::isfinite(p_) && p_ >= 1.0, "term attention: p must be at least 1, got " + std::to_string(p_));
    require(std::isfinite(weight_) && weight_ >= 0.0,
            "term attention: weight must be a finite non-negative number, got " + std::to_string(weight_));
  }

  std::string name() const override { return "attention"; }
  nlohmann::json options() const override {
    return {{"student", student_node_}, {"teacher", teacher_node_}, {"p", p_},
            {"weight", weight_}, {"teacher_index", teacher_index_option()}};
  }

  void begin(Model& model, const TrainConfig&, int64_t) override {
    begin_teachers(model);
    const Node& s = require_node(model, student_node_, "the student");
    const Node& t = require_node(teacher(), teacher_node_, teacher_label());
    // One sample of zeros runs the shape checks before any training.
    try {
      distill::attention_loss(Tensor(batched_shape(s)), Tensor(batched_shape(t)), p_, nullptr);
    } catch (Error& e) {
      throw e.add_context("term attention between the student's node " + student_node_ +
                          " and the teacher's node " + teacher_node_);
    }
  }

  double add_loss(Model& model, const TrainStep& step, const Tensor&, Tensor&,
                  ActivationGradients& activation_grads) override {
    run_teachers(step);
    const double loss = distill::attention_loss(model.value(student_node_),
                                                teacher().value(teacher_node_), p_, &gradient_);
    gradient_.flat() *= static_cast<float>(weight_ / 2.0);
    add_activation_gradient(activation_grads, student_node_, gradient_);
    return weight_ / 2.0 * loss;
  }

 private:
  std::string student_node_, teacher_node_;
  double p_ = 2.0;
  double weight_ = 1000.0;
  Tensor gradient_;
};

}  // namespace

std::shared_ptr<TrainingTerm> make_attention_transfer(const nlohmann::json& options) {
  return std::make_shared<AttentionTransfer>(options);
}

}  // namespace shrink
