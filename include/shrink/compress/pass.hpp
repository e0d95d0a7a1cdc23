#pragma once
// A compression step rewrites a model. Pass::run is the non-virtual front door: it logs, times,
// runs the pass's apply(), checks that the model still runs, and appends the pass's section to
// the report. A pass author writes only apply().
#include "shrink/data/dataset.hpp"
#include "shrink/nn/model.hpp"
#include "shrink/train/trainer.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace shrink {

struct PassContext {
  const Dataset* train = nullptr;  // for fine-tuning and calibration; may be null
  Model* teacher = nullptr;        // for distillation: the model before compression; may be null
  TrainConfig finetune;            // defaults for passes that train
  TrainingTerms terms;             // added to the objective of every pass that trains
  std::function<void(int64_t done, int64_t total, const std::string& what)> progress;
  nlohmann::json sections = nlohmann::json::array();  // one report section per pass run
};

class Pass {
 public:
  virtual ~Pass() = default;
  virtual std::string name() const = 0;  // dotted lowercase: "prune.magnitude"
  virtual nlohmann::json options() const = 0;
  // Whether the pass learns from PassContext::teacher (the model before compression, which
  // run_compress_job copies only when some pass needs it).
  virtual bool needs_teacher() const { return false; }
  void run(Model& model, PassContext& context);

 private:
  // Rewrites the model; returns the pass's own report fields.
  virtual nlohmann::json apply(Model& model, PassContext& context) = 0;
};

// The pass registry: builds a pass from its name and JSON options; the error lists known names.
std::unique_ptr<Pass> make_pass(const std::string& name, const nlohmann::json& options);
std::vector<std::string> pass_names();

// The training-term registry: builds a term (a distillation loss, a regulariser, a pruning
// schedule) from its name and JSON options; the error lists known names.
std::shared_ptr<TrainingTerm> make_training_term(const std::string& name,
                                                 const nlohmann::json& options);
std::vector<std::string> training_term_names();
// [{"term": "bn_l1", "strength": 1e-4}, ...] -> terms, and back.
TrainingTerms make_training_terms(const nlohmann::json& list);
nlohmann::json training_terms_json(const TrainingTerms& terms);

// A recipe is a JSON list of passes, run in order:
//   {"passes": [{"pass": "prune.magnitude", "sparsity": 0.9, "scope": "global"},
//               {"pass": "train.finetune", "epochs": 2}]}
class Recipe {
 public:
  static Recipe from_json(const nlohmann::json& json);
  static Recipe from_file(const std::string& path);
  void add(std::unique_ptr<Pass> pass) { passes_.push_back(std::move(pass)); }
  bool empty() const { return passes_.empty(); }
  bool needs_teacher() const;  // whether any pass does
  nlohmann::json to_json() const;
  // Runs the passes in order; `after_each`, if given, sees the model after each pass (the
  // compress report's size and accuracy per stage).
  void run(Model& model, PassContext& context,
           const std::function<void(const Pass& pass, Model& model)>& after_each = {}) const;

 private:
  std::vector<std::unique_ptr<Pass>> passes_;
};

}  // namespace shrink
