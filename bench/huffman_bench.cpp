// Canonical Huffman decoding speed (src/compress/coding/huffman.hpp): symbols per second of the
// table-driven decoder over codebook indices shaped like a k-means layer's (Gaussian-like over
// 2^bits symbols) and over sparse index gaps (geometric), plus the encoder for scale; and the
// pair blocks' decoder (src/compress/coding/pair_huffman.hpp, two codes per look-up) and
// writer over the same codebook indices.
//   build/bench/huffman_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only
#include "../src/compress/coding/huffman.hpp"
#include "../src/compress/coding/pair_huffman.hpp"
#include "shrink/core/random.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>

namespace {

std::vector<uint32_t> codebook_indices(int bits, int64_t n) {
  shrink::Rng rng(1);
  const double centre = ((1 << bits) - 1) / 2.0, spread = (1 << bits) / 6.0;
  std::vector<uint32_t> symbols(static_cast<size_t>(n));
  for (uint32_t& s : symbols)
    s = static_cast<uint32_t>(std::clamp<long>(std::lround(centre + spread * rng.normal()), 0, (1 << bits) - 1));
  return symbols;
}

std::vector<uint32_t> gaps(double density, int64_t n) {
  shrink::Rng rng(2);
  std::vector<uint32_t> symbols(static_cast<size_t>(n));
  for (uint32_t& s : symbols) {
    int gap = 1;
    while (rng.uniform() >= density && gap < 255) ++gap;
    s = static_cast<uint32_t>(gap);
  }
  return symbols;
}

void decode(benchmark::State& state, const std::vector<uint32_t>& symbols, int alphabet) {
  std::string block;
  shrink::coding::write_block(symbols, alphabet, block);
  for (auto _ : state) {
    shrink::coding::BlockReader reader(block, alphabet, "bench");
    uint64_t sum = 0;
    for (size_t i = 0; i < symbols.size(); ++i) sum += reader.next();
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(symbols.size()));
  state.counters["bits_per_symbol"] = 8.0 * static_cast<double>(block.size()) / static_cast<double>(symbols.size());
}

void BM_DecodeCodebookIndices(benchmark::State& state) {
  const int bits = static_cast<int>(state.range(0));
  decode(state, codebook_indices(bits, 1 << 20), 1 << bits);
}
BENCHMARK(BM_DecodeCodebookIndices)->Arg(4)->Arg(5)->Arg(8);

void BM_DecodeGaps(benchmark::State& state) { decode(state, gaps(0.05, 1 << 20), 256); }
BENCHMARK(BM_DecodeGaps);

void BM_EncodeCodebookIndices(benchmark::State& state) {
  const std::vector<uint32_t> symbols = codebook_indices(5, 1 << 20);
  for (auto _ : state) {
    std::string block;
    shrink::coding::write_block(symbols, 32, block);
    benchmark::DoNotOptimize(block.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(symbols.size()));
}
BENCHMARK(BM_EncodeCodebookIndices);

void BM_DecodePairCodebookIndices(benchmark::State& state) {
  const int bits = static_cast<int>(state.range(0));
  const std::vector<uint32_t> symbols = codebook_indices(bits, 1 << 20);
  std::string block;
  shrink::coding::write_pair_block(symbols, 1 << bits, block);
  for (auto _ : state) {
    shrink::coding::PairBlockReader reader(block, 1 << bits, "bench");
    uint64_t sum = 0;
    for (size_t i = 0; i < symbols.size(); ++i) sum += reader.next();
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(symbols.size()));
  state.counters["bits_per_symbol"] = 8.0 * static_cast<double>(block.size()) / static_cast<double>(symbols.size());
}
BENCHMARK(BM_DecodePairCodebookIndices)->Arg(4)->Arg(5);

void BM_EncodePairCodebookIndices(benchmark::State& state) {
  const std::vector<uint32_t> symbols = codebook_indices(4, 1 << 20);
  for (auto _ : state) {
    std::string block;
    shrink::coding::write_pair_block(symbols, 16, block);
    benchmark::DoNotOptimize(block.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(symbols.size()));
}
BENCHMARK(BM_EncodePairCodebookIndices);

}  // namespace
