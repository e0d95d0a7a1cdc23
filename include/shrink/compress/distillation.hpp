#pragma once
// Knowledge distillation: the teachers a student learns from. The losses themselves are training
// terms built by name (make_training_term: "kd", "hint", "attention", "rkd", "fsp"); they read
// the student's activations and the teachers' through a TeacherSet given to them before
// training. docs/distillation.md has the formulas and options.
#include "shrink/data/dataset.hpp"
#include "shrink/nn/model.hpp"
#include "shrink/train/training_term.hpp"

#include <memory>
#include <string>
#include <vector>

namespace shrink {

struct Teacher {
  std::shared_ptr<Model> model;
  double weight = 1.0;  // its share of the soft targets when there are several
  std::string name;     // for reports and errors: the file it came from
};

// The teachers of one training run. They run in inference mode on the student's batch once per
// step, whichever term asks first, and keep their activations until the next step.
class TeacherSet {
 public:
  // Weights must be positive; they are normalised to sum to 1. `student_input`, when given, is
  // the normalization of the batches the student sees: a teacher whose metadata records another
  // normalization gets the batch converted to its own (the same raw pixels), so a model trained
  // on standardized inputs can teach one trained on [0, 1] inputs.
  explicit TeacherSet(std::vector<Teacher> teachers, const Normalization* student_input = nullptr);

  size_t size() const { return teachers_.size(); }
  Model& model(size_t i) { return *teachers_.at(i).model; }
  const Model& model(size_t i) const { return *teachers_.at(i).model; }
  double weight(size_t i) const { return teachers_.at(i).weight; }
  const std::string& name(size_t i) const { return teachers_.at(i).name; }

  // Throws a bad-input Error unless every teacher takes the student's input shape.
  void check_student(const Model& student) const;
  // Forgets the last batch, so the next run() computes (call before a training run).
  void restart() { last_step_ = -1; }
  // Runs every teacher on the batch of `step` unless it already ran on it.
  void run(const TrainStep& step);
  // Teacher i's output on the last batch run.
  const Tensor& output(size_t i) const;

 private:
  struct Conversion {  // x_teacher = scale[c] * x_student + shift[c]
    bool needed = false;
    std::vector<float> scale, shift;
  };
  std::vector<Teacher> teachers_;
  std::vector<Conversion> conversions_;
  std::vector<const Tensor*> outputs_;
  Tensor converted_;
  int64_t last_step_ = -1;
};

// Gives `teachers` to every distillation term in `terms` that has none yet (a term keeps the
// teachers it was given first). Returns how many terms took them.
int give_teachers(const TrainingTerms& terms, const std::shared_ptr<TeacherSet>& teachers);
// Whether `term` learns from teachers (every term of this family does).
bool is_distillation_term(const TrainingTerm& term);

}  // namespace shrink
