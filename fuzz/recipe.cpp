// Recipe JSON files (shrink compress --recipe FILE): every pass's options parsed and written back.
#include "fuzz_support.hpp"
#include "shrink/compress/pass.hpp"

SHRINK_FUZZ_TARGET {
  shrink::fuzz::with_file(input, ".json", [](const std::string& path) {
    shrink::Recipe::from_file(path).to_json();
  });
}
