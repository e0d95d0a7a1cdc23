// distill.recover: fine-tunes a pruned or quantized model by distillation, with the model as it
// was before compression as the teacher (PassContext::teacher, which shrink compress keeps) or
// the models named in "teachers". The losses default to kd (T = 4, α = 0.9); any distillation
// term may be listed, and the training options are train.finetune's.
#include "compress/finetune.hpp"
#include "compress/passes.hpp"
#include "shrink/compress/distillation.hpp"
#include "shrink/io/model_file.hpp"

namespace shrink {
namespace {

class Recover final : public Pass {
 public:
  explicit Recover(const nlohmann::json& json) : overrides_(json.is_null() ? nlohmann::json::object() : json) {
    PassOptions options(name(), overrides_);
    read_training_options(options, name());
    terms_ = options.get<nlohmann::json>("terms", nlohmann::json::array({{{"term", "kd"}}}));
    teacher_files_ = options.get<std::vector<std::string>>("teachers", {});
    teacher_weights_ = options.get<std::vector<double>>("teacher_weights", {});
    options.finish();
    bool distills = false;
    for (const auto& term : make_training_terms(terms_)) distills = distills || is_distillation_term(*term);
    require(distills, "pass distill.recover: \"terms\" " + terms_.dump() +
                          " holds no distillation loss (kd, hint, attention, rkd, fsp); use "
                          "train.finetune to fine-tune without a teacher");
    require(teacher_weights_.empty() || teacher_weights_.size() == teacher_files_.size(),
            "pass distill.recover: " + std::to_string(teacher_weights_.size()) +
                " teacher_weights for " + std::to_string(teacher_files_.size()) + " teachers");
  }

  std::string name() const override { return "distill.recover"; }
  nlohmann::json options() const override { return overrides_; }
  bool needs_teacher() const override { return teacher_files_.empty(); }

 private:
  nlohmann::json apply(Model& model, PassContext& context) override {
    require(context.train != nullptr, "recovery needs training data (pass --data)");
    std::vector<Teacher> teachers;
    nlohmann::json names = nlohmann::json::array();
    if (teacher_files_.empty()) {
      require(context.teacher != nullptr,
              "no teacher: the model before compression is kept by shrink compress; from C++, "
              "set PassContext::teacher, or name the teachers in the pass's \"teachers\" option");
      // Not owned: the context's teacher outlives the pass.
      teachers.push_back({std::shared_ptr<Model>(std::shared_ptr<Model>(), context.teacher), 1.0,
                          "the model before compression"});
    } else {
      for (size_t i = 0; i < teacher_files_.size(); ++i)
        teachers.push_back({std::make_shared<Model>(read_model(teacher_files_[i])),
                            teacher_weights_.empty() ? 1.0 : teacher_weights_[i], teacher_files_[i]});
    }
    for (const Teacher& t : teachers) names.push_back(t.name);
    auto teacher_set = std::make_shared<TeacherSet>(std::move(teachers), &context.train->normalization);
    // Fresh terms each run: they keep state (a hint's regressor) that must not leak across runs.
    const TrainingTerms terms = make_training_terms(terms_);
    give_teachers(terms, teacher_set);
    give_teachers(context.terms, teacher_set);
    nlohmann::json report = train_in_pass(model, context, training_config(overrides_, context.finetune),
                                          terms, "recover");
    report["teachers"] = names;
    return report;
  }

  nlohmann::json overrides_;
  nlohmann::json terms_;
  std::vector<std::string> teacher_files_;
  std::vector<double> teacher_weights_;
};

}  // namespace

std::unique_ptr<Pass> make_distill_recover(const nlohmann::json& options) {
  return std::make_unique<Recover>(options);
}

}  // namespace shrink
