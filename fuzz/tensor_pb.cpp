// ONNX TensorProto .pb files (shrink run --input x.pb).
#include "fuzz_support.hpp"
#include "shrink/io/tensor_file.hpp"

SHRINK_FUZZ_TARGET {
  shrink::fuzz::with_file(input, ".pb", [](const std::string& path) {
    std::string name;
    shrink::read_tensor_pb(path, &name);
  });
}
