#pragma once
// What every distillation term shares: the teachers it was given, which of them its feature
// losses read ("teacher_index", 1-based), and checks of named nodes that fail before training
// with the list of nodes a model has.
#include "compress/pass_options.hpp"
#include "shrink/compress/distillation.hpp"
#include "shrink/train/trainer.hpp"

#include <memory>
#include <string>

namespace shrink {

class DistillationTerm : public TrainingTerm {
 public:
  void set_teachers(std::shared_ptr<TeacherSet> teachers) { teachers_ = std::move(teachers); }
  bool has_teachers() const { return teachers_ != nullptr; }

 protected:
  // Reads "teacher_index" (1-based; default 1) from the term's options.
  void read_teacher_index(PassOptions& options);
  nlohmann::json teacher_index_option() const;
  // Checks that teachers were given and take the student's input, and restarts them. Call
  // first in begin().
  void begin_teachers(const Model& student);
  // Runs the teachers on this step's batch (once per step, whichever term asks first).
  void run_teachers(const TrainStep& step) { teachers_->run(step); }
  // The teacher feature losses read, and its name for messages.
  Model& teacher() { return teachers_->model(teacher_index_); }
  std::string teacher_label() const;

  std::shared_ptr<TeacherSet> teachers_;
  size_t teacher_index_ = 0;  // 0-based
};

// The node `name` of `model`, or a bad-input Error naming `role` ("the student", "teacher
// big.shrk") and listing the model's nodes. It must come no later than the model's output, so
// a forward pass computes it.
const Node& require_node(const Model& model, const std::string& name, const std::string& role);
// The per-sample shape of a node's output with the batch dimension in front (batch 1).
Shape batched_shape(const Node& node);

}  // namespace shrink
