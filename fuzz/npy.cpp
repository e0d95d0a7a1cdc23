// NumPy .npy tensors (shrink run --input x.npy).
#include "fuzz_support.hpp"
#include "shrink/io/tensor_file.hpp"

SHRINK_FUZZ_TARGET { shrink::decode_npy(std::string(input), "fuzz input"); }
