#include "compress/distill/distillation_term.hpp"

#include "shrink/core/error.hpp"

namespace shrink {

void DistillationTerm::read_teacher_index(PassOptions& options) {
  const int index = options.get<int>("teacher_index", 1);
  require(index >= 1, "term " + name() + ": teacher_index counts teachers from 1, got " +
                          std::to_string(index));
  teacher_index_ = static_cast<size_t>(index - 1);
}

nlohmann::json DistillationTerm::teacher_index_option() const {
  return static_cast<int64_t>(teacher_index_ + 1);
}

void DistillationTerm::begin_teachers(const Model& student) {
  require(teachers_ != nullptr,
          "term " + name() + " has no teacher: give one with shrink distill --teacher FILE, or "
          "run it in the distill.recover pass, whose teacher is the model before compression");
  require(teacher_index_ < teachers_->size(),
          "term " + name() + " reads teacher " + std::to_string(teacher_index_ + 1) + " but there " +
              (teachers_->size() == 1 ? "is 1 teacher" : "are " + std::to_string(teachers_->size()) + " teachers"));
  teachers_->check_student(student);
  teachers_->restart();
}

std::string DistillationTerm::teacher_label() const {
  return "teacher " + teachers_->name(teacher_index_);
}

const Node& require_node(const Model& model, const std::string& name, const std::string& role) {
  const std::vector<Node>& nodes = model.nodes();
  const std::string& output = model.output_name();
  bool past_output = false;
  for (const Node& node : nodes) {
    if (node.name == name) {
      require(!past_output, role + "'s node '" + name + "' comes after its output '" + output +
                                "', so a forward pass does not compute it");
      return node;
    }
    past_output = past_output || node.name == output;
  }
  std::string known;
  for (const Node& node : nodes) known += (known.empty() ? "" : ", ") + node.name;
  throw Error::bad_input(role + " has no node named '" + name + "'; its nodes: " + known);
}

Shape batched_shape(const Node& node) {
  Shape shape{1};
  shape.insert(shape.end(), node.output_shape.begin(), node.output_shape.end());
  return shape;
}

}  // namespace shrink
