// The ONNX importer: protobuf, operators and their attributes, constant folding; then the model
// runs and is exported again.
#include "fuzz_support.hpp"
#include "shrink/io/onnx.hpp"

SHRINK_FUZZ_TARGET {
  shrink::Model model = shrink::load_onnx_bytes(std::string(input), "fuzz input");
  shrink::fuzz::exercise(model);
  shrink::save_onnx_bytes(model);
}
