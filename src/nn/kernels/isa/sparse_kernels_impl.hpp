#pragma once
// The sparse kernels of sparse_kernels.hpp, written once against vec.hpp's V and compiled once
// per instruction set by avx512.cpp, avx2.cpp and portable.cpp. Include after vec.hpp.
#include "nn/kernels/sparse_kernels.hpp"

namespace shrink::kernels::SHRINK_VEC_NAMESPACE {

// Batch columns per broadcast tile, in vectors: accumulators for one output row, leaving
// registers for the loaded inputs and the broadcast weight (AVX-512: 8 of 32; AVX2, SSE: 4).
constexpr int kSparseVectors = kRegisters >= 32 ? 8 : 4;

// Each slice's steps four at a time (a slice holds a multiple of four), one offset load for
// the four and one accumulator each (a step's multiply-add would wait on the previous one's
// otherwise), then the bias and each lane's row.
void sparse_slices(const SparseSlicesArgs& a) {
  const SparseSlices& w = *a.w;
  const int32_t* start = w.start.data();
  const int32_t* base = w.base.data();
  const uint8_t* offset = w.offset.data();
  const float* value = w.value.data();
  for (int64_t r = 0; r < a.samples; ++r) {
    const float* x = a.x + r * a.ldx;
    float* y = a.y + r * a.ldy;
    for (int64_t s = a.slice_begin; s < a.slice_end; ++s) {
      V acc0 = zero(), acc1 = zero(), acc2 = zero(), acc3 = zero();
      for (int64_t k = start[s]; k < start[s + 1]; k += 4) {
        const int64_t l = k * kLanes;
        const Offsets offsets = load_offsets(offset + l);
        acc0 = fma(load(value + l), lookup<0>(x + base[k], offsets), acc0);
        acc1 = fma(load(value + l + kLanes), lookup<1>(x + base[k + 1], offsets), acc1);
        acc2 = fma(load(value + l + 2 * kLanes), lookup<2>(x + base[k + 2], offsets), acc2);
        acc3 = fma(load(value + l + 3 * kLanes), lookup<3>(x + base[k + 3], offsets), acc3);
      }
      // Each lane to its row (the slices hold the rows sorted by their non-zero counts).
      float out[kLanes];
      store(out, add(add(acc0, acc1), add(acc2, acc3)));
      const int64_t o = s * kLanes;
      const int64_t n = w.rows - o < kLanes ? w.rows - o : kLanes;
      const int32_t* row = w.row.data() + o;
      for (int64_t l = 0; l < n; ++l) y[row[l]] = out[l] + (a.bias ? a.bias[row[l]] : 0.0f);
    }
  }
}

// One tile of `vectors` vectors of batch columns from column j (the last vector `tail` lanes
// wide when tail < kLanes), for every output row: the tile's accumulators stay in registers
// through the row's non-zeros.
template <int kVectors>
void sparse_broadcast_tile(const SparseBroadcastArgs& a, int64_t j, int tail) {
  const int32_t* start = a.w->start.data();
  const int32_t* index = a.w->index.data();
  const float* value = a.w->value.data();
  const float* xt = a.xt + j;
  for (int64_t o = a.row_begin; o < a.row_end; ++o) {
    V acc[kVectors];
    const V b = set1(a.bias ? a.bias[o] : 0.0f);
    for (int v = 0; v < kVectors; ++v) acc[v] = b;
    for (int32_t k = start[o]; k < start[o + 1]; ++k) {
      const V w = set1(value[k]);
      const float* row = xt + static_cast<int64_t>(index[k]) * a.ldxt;
      for (int v = 0; v < kVectors - 1; ++v) acc[v] = fma(w, load(row + v * kLanes), acc[v]);
      const float* last = row + (kVectors - 1) * kLanes;
      acc[kVectors - 1] =
          fma(w, tail < kLanes ? load_first(last, tail) : load(last), acc[kVectors - 1]);
    }
    float* y = a.yt + o * a.ldyt + j;
    for (int v = 0; v < kVectors - 1; ++v) store(y + v * kLanes, acc[v]);
    float* last = y + (kVectors - 1) * kLanes;
    if (tail < kLanes)
      store_first(last, acc[kVectors - 1], tail);
    else
      store(last, acc[kVectors - 1]);
  }
}

// A tile of 1 to 8 vectors (the last tile of a batch may be narrower than kSparseVectors).
using SparseTile = void (*)(const SparseBroadcastArgs&, int64_t, int);
constexpr SparseTile kSparseTiles[8] = {
    &sparse_broadcast_tile<1>, &sparse_broadcast_tile<2>, &sparse_broadcast_tile<3>,
    &sparse_broadcast_tile<4>, &sparse_broadcast_tile<5>, &sparse_broadcast_tile<6>,
    &sparse_broadcast_tile<7>, &sparse_broadcast_tile<8>};

void sparse_broadcast(const SparseBroadcastArgs& a) {
  constexpr int64_t kTile = kSparseVectors * kLanes;
  for (int64_t j = 0; j < a.width; j += kTile) {
    const int64_t columns = a.width - j < kTile ? a.width - j : kTile;
    const int64_t vectors = (columns + kLanes - 1) / kLanes;
    const int tail = static_cast<int>(columns - (vectors - 1) * kLanes);
    kSparseTiles[vectors - 1](a, j, tail);
  }
}

constexpr SparseKernels sparse_table(Isa isa) {
  return {isa, kLanes, kTable, &sparse_slices, &sparse_broadcast};
}

}  // namespace shrink::kernels::SHRINK_VEC_NAMESPACE
