// Train LeNet-300-100 on Fashion-MNIST, prune 90% of its weights, fine-tune, and save it —
// the library calls behind `shrink train` and `shrink compress`.
//   build/examples/train_and_prune [epochs] [output.shrk]
#include "shrink/shrink.hpp"

#include <cstdio>
#include <string>

int main(int argc, char** argv) try {
  const int epochs = argc > 1 ? std::stoi(argv[1]) : 2;
  const std::string output = argc > 2 ? argv[2] : "lenet-300-100-pruned.shrk";

  const shrink::Dataset train = shrink::load_dataset("fashion-mnist", "train");
  const shrink::Dataset test = shrink::load_dataset("fashion-mnist", "test");
  shrink::Model model = shrink::build_architecture("lenet-300-100", train.sample_shape, train.num_classes);

  shrink::TrainConfig config;  // SGD, lr 0.01, momentum 0.9, batch 64
  config.epochs = epochs;
  shrink::train(model, train, config);
  std::printf("dense:  accuracy %.2f%%\n", 100.0 * shrink::evaluate(model, test).accuracy);

  shrink::PassContext context;
  context.train = &train;
  context.finetune.lr = 0.001f;
  shrink::Recipe recipe = shrink::Recipe::from_json(
      {{"passes", {{{"pass", "prune.magnitude"}, {"sparsity", 0.9}, {"scope", "global"}},
                   {{"pass", "train.finetune"}, {"epochs", 1}}}}});
  recipe.run(model, context);
  std::printf("pruned: accuracy %.2f%%, weight sparsity %.1f%%\n",
              100.0 * shrink::evaluate(model, test).accuracy,
              100.0 * shrink::weight_sparsity(model).sparsity());

  model.metadata["normalization"] = train.normalization.to_json();
  shrink::write_model(model, output);
  std::printf("saved %s (%lld bytes)\n", output.c_str(),
              static_cast<long long>(shrink::file_bytes(output)));
  return 0;
} catch (const shrink::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 2;
}
