// The .shrk container: header, metadata, graph and every tensor encoding, then the model runs.
#include "fuzz_support.hpp"
#include "shrink/io/container.hpp"

SHRINK_FUZZ_TARGET {
  shrink::Model model = shrink::deserialize_model(input, "fuzz input");
  shrink::fuzz::exercise(model);
  shrink::serialize_model(model);
}
