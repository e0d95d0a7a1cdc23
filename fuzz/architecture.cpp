// Architecture JSON files (shrink train --arch FILE.json): the graph is built, then runs.
#include "fuzz_support.hpp"
#include "shrink/nn/architectures.hpp"

SHRINK_FUZZ_TARGET {
  shrink::fuzz::with_file(input, ".json", [](const std::string& path) {
    shrink::Model model = shrink::build_architecture(path, {1, 28, 28}, 0);
    shrink::fuzz::exercise(model);
  });
}
