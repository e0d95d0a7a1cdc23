// Load a model file (.shrk or .onnx), print its layers, and run it once on a batch of zeros —
// the library calls behind `shrink inspect`.
//   build/examples/inspect_model MODEL
#include "shrink/shrink.hpp"

#include <cstdio>

int main(int argc, char** argv) try {
  if (argc != 2) {
    std::fprintf(stderr, "usage: inspect_model MODEL\n");
    return 2;
  }
  shrink::Model model = shrink::read_model(argv[1]);
  const shrink::ModelSummary summary = shrink::summarize(model, {}, shrink::file_bytes(argv[1]));
  std::printf("%s", summary.to_table().c_str());

  shrink::Shape batch{1};
  batch.insert(batch.end(), model.input_shape().begin(), model.input_shape().end());
  const shrink::Tensor& output = model.forward(shrink::Tensor(batch));
  std::printf("output for an input of zeros: %s\n", shrink::to_string(output.shape()).c_str());
  return 0;
} catch (const shrink::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 2;
}
