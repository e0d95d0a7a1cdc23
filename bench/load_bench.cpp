// Whole-file load time of a model (issue #11: "a compressed LeNet-5 loads in milliseconds"): the
// .shrk file read from disk (page cache) and decoded — header, graph, every tensor's encoding
// (Huffman-coded codes and gaps, codebooks, masks) — into a Model ready to run, then the same
// plus the first forward pass of one image, which computes the effective weights. The dense
// fp32 file of the same network runs beside it.
//   SHRINK_LOAD_MODELS=bench-out/deep-compression/lenet5-dc.shrk,bench-out/deep-compression/lenet5.shrk \
//     build/bench/load_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only
// (the default list; bench/deep_compression.sh makes both files).
#include "bench_threads.hpp"
#include "shrink/core/threading.hpp"
#include "shrink/io/container.hpp"
#include "shrink/nn/model.hpp"

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::vector<std::string> model_paths() {
  const char* env = std::getenv("SHRINK_LOAD_MODELS");
  std::stringstream list(env ? env
                             : "bench-out/deep-compression/lenet5-dc.shrk,"
                               "bench-out/deep-compression/lenet5.shrk");
  std::vector<std::string> paths;
  for (std::string path; std::getline(list, path, ',');)
    if (!path.empty()) paths.push_back(path);
  return paths;
}

void load(benchmark::State& state, const std::string& path, bool first_forward) {
  if (!std::filesystem::exists(path)) {
    state.SkipWithError(("no model file " + path + " (run bench/deep_compression.sh)").c_str());
    return;
  }
  shrink::set_num_threads(shrink::bench_threads());
  for (auto _ : state) {
    shrink::Model model = shrink::load_model_shrk(path);
    if (first_forward) {
      shrink::Shape shape = model.input_shape();
      shape.insert(shape.begin(), 1);
      benchmark::DoNotOptimize(model.forward(shrink::Tensor(shape, 0.5f)).data());
    }
    benchmark::DoNotOptimize(&model);
  }
  state.counters["file_bytes"] = static_cast<double>(std::filesystem::file_size(path));
}

const bool registered = [] {
  for (const std::string& path : model_paths()) {
    const std::string name = std::filesystem::path(path).filename().string();
    benchmark::RegisterBenchmark(("load/" + name).c_str(), load, path, false)->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("load_and_first_forward/" + name).c_str(), load, path, true)
        ->Unit(benchmark::kMillisecond);
  }
  return true;
}();

}  // namespace
