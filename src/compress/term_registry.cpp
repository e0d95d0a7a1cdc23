#include "compress/terms.hpp"

#include <utility>

namespace shrink {
namespace {

using Factory = std::shared_ptr<TrainingTerm> (*)(const nlohmann::json&);

// One line per term.
const std::pair<const char*, Factory> kTerms[] = {
    {"bn_l1", make_batch_norm_l1},
    {"agp", make_gradual_pruning},
    {"set", make_sparse_evolutionary_training},
    {"rigl", make_rigged_lottery},
    {"kd", make_knowledge_distillation},
    {"hint", make_hint},
    {"attention", make_attention_transfer},
    {"rkd", make_relational_distillation},
    {"fsp", make_flow_of_solution_procedure},
};

}  // namespace

std::shared_ptr<TrainingTerm> make_training_term(const std::string& name,
                                                 const nlohmann::json& options) {
  for (const auto& [term_name, factory] : kTerms)
    if (name == term_name) return factory(options);
  std::string known;
  for (const auto& entry : kTerms) known += (known.empty() ? "" : ", ") + std::string(entry.first);
  throw Error::bad_input("unknown training term '" + name + "'; known terms: " + known);
}

std::vector<std::string> training_term_names() {
  std::vector<std::string> names;
  for (const auto& entry : kTerms) names.emplace_back(entry.first);
  return names;
}

TrainingTerms make_training_terms(const nlohmann::json& list) {
  require(list.is_array(), "\"terms\" must be a list of {\"term\": NAME, options...}, got " +
                               list.dump());
  TrainingTerms terms;
  for (const auto& entry : list) {
    require(entry.is_object() && entry.contains("term") && entry["term"].is_string(),
            "each training term needs a \"term\" name, got " + entry.dump());
    nlohmann::json options = entry;
    options.erase("term");
    terms.push_back(make_training_term(entry["term"].get<std::string>(), options));
  }
  return terms;
}

nlohmann::json training_terms_json(const TrainingTerms& terms) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& term : terms) {
    nlohmann::json entry = term->options();
    entry["term"] = term->name();
    list.push_back(entry);
  }
  return list;
}

}  // namespace shrink
