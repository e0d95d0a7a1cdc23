#include "support/trained_mlp.hpp"

#include "shrink/train/evaluator.hpp"
#include "shrink/train/trainer.hpp"
#include "support/blobs.hpp"

namespace shrink::testing {

Model blobs_mlp(int64_t hidden) {
  Model model = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {8}}}},
       {"nodes",
        {{{"name", "fc1"}, {"type", "Linear"}, {"attributes", {{"out_features", hidden}}}},
         {{"name", "relu1"}, {"type", "ReLU"}},
         {{"name", "fc2"}, {"type", "Linear"}, {"attributes", {{"out_features", hidden}}}},
         {{"name", "relu2"}, {"type", "ReLU"}},
         {{"name", "fc3"}, {"type", "Linear"}, {"attributes", {{"out_features", 4}}}}}}});
  model.initialize(2);
  return model;
}

TrainedMlp::TrainedMlp(int64_t hidden)
    : data(gaussian_blobs(512, 1, 4, 8, 2)), model(blobs_mlp(hidden)) {
  TrainConfig config;
  config.epochs = 5;
  config.lr = 0.05f;
  train(model, data, config);
  context.train = &data;
  context.finetune.lr = 0.01f;
}

nlohmann::json TrainedMlp::run(const std::string& pass, const nlohmann::json& options) {
  make_pass(pass, options)->run(model, context);
  return context.sections.back();
}

double TrainedMlp::accuracy() { return evaluate(model, data).accuracy; }

}  // namespace shrink::testing
