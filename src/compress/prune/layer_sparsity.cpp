#include "compress/prune/layer_sparsity.hpp"

#include "shrink/core/error.hpp"
#include "shrink/core/file.hpp"

namespace shrink {
namespace {

bool names(const std::string& key, const Parameter& p) {
  return key == p.name || key + ".weight" == p.name;
}

}  // namespace

std::map<std::string, double> sparsities_from_sensitivity(const nlohmann::json& report,
                                                          double max_loss) {
  std::map<std::string, double> chosen;
  try {
    const std::vector<double> sparsities = report.at("sparsities").get<std::vector<double>>();
    for (const auto& layer : report.at("layers")) {
      const auto change = layer.at("accuracy_change").get<std::vector<double>>();
      require(change.size() == sparsities.size(),
              "layer " + layer.at("weight").get<std::string>() + " has " +
                  std::to_string(change.size()) + " accuracies for " +
                  std::to_string(sparsities.size()) + " sparsities");
      double best = 0.0;
      for (size_t i = 0; i < sparsities.size(); ++i)
        if (change[i] >= -max_loss) best = std::max(best, sparsities[i]);
      chosen[layer.at("weight").get<std::string>()] = best;
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error::bad_input(std::string("not a shrink sensitivity report (") + e.what() +
                           "); write one with shrink sensitivity MODEL --report FILE.json");
  }
  return chosen;
}

LayerSparsities LayerSparsities::read(JsonOptions& options, const std::string& what) {
  LayerSparsities result;
  result.from = options.get<std::string>("sparsity_from", "");
  result.max_loss = options.get<double>("max_loss", result.max_loss);
  result.given = options.get<std::map<std::string, double>>("layer_sparsity", {});
  require(result.max_loss >= 0.0 && result.max_loss <= 1.0,
          what + ": max_loss (an accuracy drop, as a fraction) must be in [0, 1], got " +
              message_number(result.max_loss));
  if (!result.from.empty()) {
    nlohmann::json report;
    try {
      report = nlohmann::json::parse(read_file(result.from, "sensitivity report"));
    } catch (const nlohmann::json::exception& e) {
      throw Error::bad_input(what + ": " + result.from + " is not JSON (" + e.what() + ")");
    }
    try {
      result.from_report = sparsities_from_sensitivity(report, result.max_loss);
    } catch (Error& e) {
      throw e.add_context(what + ": sparsity_from " + result.from);
    }
  }
  for (const auto& [layer, sparsity] : result.given)
    require(sparsity >= 0.0 && sparsity < 1.0, what + ": layer_sparsity of " + layer +
                                                   " must be in [0, 1), got " +
                                                   message_number(sparsity));
  return result;
}

nlohmann::json LayerSparsities::to_json() const {
  nlohmann::json json = nlohmann::json::object();
  if (!given.empty()) json["layer_sparsity"] = given;
  if (!from.empty()) {
    json["sparsity_from"] = from;
    json["max_loss"] = max_loss;
    json["chosen_from_report"] = from_report;
  }
  return json;
}

std::vector<double> LayerSparsities::for_weights(const std::vector<Parameter*>& weights,
                                                 double fallback, const std::string& what) const {
  std::vector<double> result(weights.size(), fallback);
  // The report first, so what is given directly overrides it.
  for (const auto* entries : {&from_report, &given})
    for (const auto& [layer, sparsity] : *entries) {
      bool found = false;
      for (size_t i = 0; i < weights.size(); ++i)
        if (names(layer, *weights[i])) {
          result[i] = sparsity;
          found = true;
        }
      if (found) continue;
      std::string known;
      for (const Parameter* p : weights) known += (known.empty() ? "" : ", ") + p->name;
      throw Error::bad_input(what + ": " + (entries == &given ? "layer_sparsity" : from) +
                             " names '" + layer + "', which is none of the weights it prunes (" +
                             known + ")");
    }
  return result;
}

}  // namespace shrink
