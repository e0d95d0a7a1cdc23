#include "compress/distill/distillation_term.hpp"
#include "shrink/compress/distillation.hpp"
#include "shrink/core/error.hpp"

#include <cmath>

namespace shrink {
namespace {

float per_channel(const std::vector<float>& values, int64_t channel) {
  return values.size() == 1 ? values[0] : values.at(static_cast<size_t>(channel));
}

}  // namespace

TeacherSet::TeacherSet(std::vector<Teacher> teachers, const Normalization* student_input)
    : teachers_(std::move(teachers)) {
  require(!teachers_.empty(), "distillation needs at least one teacher");
  double total = 0.0;
  for (const Teacher& t : teachers_) {
    require(t.model != nullptr, "teacher " + t.name + " has no model");
    require(std::isfinite(t.weight) && t.weight > 0.0,
            "teacher " + t.name + " has weight " + std::to_string(t.weight) +
                "; teacher weights must be positive");
    total += t.weight;
  }
  for (Teacher& t : teachers_) t.weight /= total;

  // Raw value r reaches the student as (r·s - m) / d and a teacher wants (r·s' - m') / d', so
  // x' = x · d s' / (s d') + (m s' / s - m') / d', per channel (the first axis of a sample).
  conversions_.resize(teachers_.size());
  for (size_t i = 0; i < teachers_.size(); ++i) {
    const Model& model = *teachers_[i].model;
    if (student_input == nullptr || !model.metadata.contains("normalization")) continue;
    const Normalization own = Normalization::from_json(model.metadata["normalization"]);
    if (own == *student_input) continue;
    const int64_t channels = model.input_shape().empty() ? 1 : model.input_shape()[0];
    own.validate(channels);
    student_input->validate(channels);
    Conversion& c = conversions_[i];
    c.needed = true;
    for (int64_t ch = 0; ch < channels; ++ch) {
      const double s = student_input->scale, m = per_channel(student_input->mean, ch),
                   d = per_channel(student_input->std, ch);
      const double s2 = own.scale, m2 = per_channel(own.mean, ch), d2 = per_channel(own.std, ch);
      c.scale.push_back(static_cast<float>(d * s2 / (s * d2)));
      c.shift.push_back(static_cast<float>((m * s2 / s - m2) / d2));
    }
  }
  outputs_.assign(teachers_.size(), nullptr);
}

void TeacherSet::check_student(const Model& student) const {
  for (const Teacher& t : teachers_)
    require(t.model->input_shape() == student.input_shape(),
            "teacher " + t.name + " takes inputs of shape " + to_string(t.model->input_shape()) +
                " but the student takes " + to_string(student.input_shape()));
}

void TeacherSet::run(const TrainStep& step) {
  if (step.step == last_step_) return;
  require(step.input != nullptr, "the teachers need the training batch");
  const Tensor& batch = *step.input;
  for (size_t i = 0; i < teachers_.size(); ++i) {
    const Tensor* input = &batch;
    if (conversions_[i].needed) {
      const Conversion& c = conversions_[i];
      converted_ = batch;
      const int64_t per_channel_count = converted_.numel() / batch.dim(0) / static_cast<int64_t>(c.scale.size());
      for (int64_t k = 0; k < converted_.numel(); ++k) {
        const auto channel = static_cast<size_t>((k / per_channel_count) % static_cast<int64_t>(c.scale.size()));
        converted_[k] = c.scale[channel] * converted_[k] + c.shift[channel];
      }
      input = &converted_;
    }
    try {
      outputs_[i] = &teachers_[i].model->forward(*input, /*training=*/false);
    } catch (Error& e) {
      throw e.add_context("teacher " + teachers_[i].name);
    }
  }
  last_step_ = step.step;
}

const Tensor& TeacherSet::output(size_t i) const {
  require(outputs_.at(i) != nullptr, "teacher " + teachers_.at(i).name + " has not run yet");
  return *outputs_[i];
}

int give_teachers(const TrainingTerms& terms, const std::shared_ptr<TeacherSet>& teachers) {
  int given = 0;
  for (const auto& term : terms)
    if (auto* distillation = dynamic_cast<DistillationTerm*>(term.get()))
      if (!distillation->has_teachers()) {
        distillation->set_teachers(teachers);
        ++given;
      }
  return given;
}

bool is_distillation_term(const TrainingTerm& term) {
  return dynamic_cast<const DistillationTerm*>(&term) != nullptr;
}

}  // namespace shrink
