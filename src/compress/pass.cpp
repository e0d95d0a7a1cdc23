#include "shrink/compress/pass.hpp"

#include "shrink/core/error.hpp"
#include "shrink/core/file.hpp"
#include "shrink/nn/weights.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

namespace shrink {

void Pass::run(Model& model, PassContext& context) {
  spdlog::info("pass {} {}", name(), options().dump());
  const auto start = std::chrono::steady_clock::now();
  nlohmann::json section;
  try {
    section = apply(model, context);
  } catch (Error& e) {
    throw e.add_context("pass " + name());
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // Whatever the pass changed, quantized weights are recomputed from their latent weights.
  for (Parameter* p : model.parameters()) p->mark_changed();
  // A pass must leave a model that still runs; one sample is a cheap proof.
  std::vector<Tensor> probe;
  for (const ModelInput& input : model.inputs()) {
    Shape shape{1};
    shape.insert(shape.end(), input.shape.begin(), input.shape.end());
    probe.emplace_back(shape);
  }
  std::vector<const Tensor*> probe_inputs;
  for (const Tensor& t : probe) probe_inputs.push_back(&t);
  try {
    model.forward(probe_inputs, false);
  } catch (Error& e) {
    throw Error::internal("pass " + name() + " left a model that does not run: " + e.what());
  }
  if (!section.is_object()) section = nlohmann::json::object();
  section["pass"] = name();
  section["options"] = options();
  section["seconds"] = seconds;
  section["weight_sparsity_after"] = weight_sparsity(model).sparsity();
  context.sections.push_back(section);
  spdlog::info("pass {} done in {:.1f} s", name(), seconds);
}

Recipe Recipe::from_json(const nlohmann::json& json) {
  require(json.is_object() && json.contains("passes") && json["passes"].is_array(),
          "a recipe must be a JSON object with a \"passes\" list");
  Recipe recipe;
  size_t position = 0;
  for (const auto& entry : json["passes"]) {
    ++position;
    require(entry.is_object() && entry.contains("pass") && entry["pass"].is_string(),
            "recipe pass " + std::to_string(position) + " needs a \"pass\" name");
    nlohmann::json options = entry;
    options.erase("pass");
    recipe.add(make_pass(entry["pass"].get<std::string>(), options));
  }
  return recipe;
}

Recipe Recipe::from_file(const std::string& path) {
  const std::string text = read_file(path);
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error::bad_input("recipe " + path + " is not valid JSON: " + e.what());
  }
  try {
    return from_json(json);
  } catch (Error& e) {
    throw e.add_context("recipe " + path);
  }
}

nlohmann::json Recipe::to_json() const {
  nlohmann::json passes = nlohmann::json::array();
  for (const auto& pass : passes_) {
    nlohmann::json entry = pass->options();
    entry["pass"] = pass->name();
    passes.push_back(entry);
  }
  return {{"passes", passes}};
}

bool Recipe::needs_teacher() const {
  for (const auto& pass : passes_)
    if (pass->needs_teacher()) return true;
  return false;
}

void Recipe::run(Model& model, PassContext& context,
                 const std::function<void(const Pass& pass, Model& model)>& after_each) const {
  for (const auto& pass : passes_) {
    pass->run(model, context);
    if (after_each) after_each(*pass, model);
  }
}

}  // namespace shrink
