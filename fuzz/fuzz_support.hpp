#pragma once
// What every fuzz target shares. A target is one file: SHRINK_FUZZ_TARGET { ... } feeds the
// input bytes to one reader of outside data. The contract it checks is the CLI's: bad bytes give
// a bad-input shrink::Error (one "error:" line, exit 2). Anything else escaping the reader (an
// internal Error, another exception, a crash, a sanitizer report) is a finding.
//
// The same file builds two ways: with clang's -fsanitize=fuzzer for scripts/fuzz.sh, and with
// fuzz/replay_main.cpp in the normal build, where ctest replays the seeds and every input that
// once crashed (tests/fixtures/fuzz/<target>/) as regression tests.
#include "shrink/core/error.hpp"
#include "shrink/nn/model.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace shrink::fuzz {

// Calls read(path) with `bytes` in the file at `path`, whose name ends in `suffix` (".json"),
// for readers that take a path. The file lives in a directory of this process under /dev/shm
// (memory) when there is one.
void with_file(std::string_view bytes, const std::string& suffix,
               const std::function<void(const std::string&)>& read);

// Runs a model a reader accepted on one small batch, forward and backward, so a graph that loads
// but breaks an op's arithmetic is found too. Models whose activations would be large are only
// loaded: the fuzzer looks for crashes, not for memory limits.
void exercise(Model& model);

// The entry point's body: turns the expected bad-input Error into a normal return.
void run_one(std::string_view input, void (*target)(std::string_view));

}  // namespace shrink::fuzz

#define SHRINK_FUZZ_TARGET                                                          \
  static void shrink_fuzz_target(std::string_view input);                           \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {         \
    shrink::fuzz::run_one({reinterpret_cast<const char*>(data), size},              \
                          shrink_fuzz_target);                                      \
    return 0;                                                                       \
  }                                                                                 \
  static void shrink_fuzz_target(std::string_view input)
