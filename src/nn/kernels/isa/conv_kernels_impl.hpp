#pragma once
// The convolution kernels of conv_kernels.hpp, written once against vec.hpp's V and compiled
// once per instruction set by avx512.cpp, avx2.cpp and portable.cpp. Include after vec.hpp.
#include "nn/kernels/conv_kernels.hpp"

#include <utility>  // std::integer_sequence only: no functions

namespace shrink::kernels::SHRINK_VEC_NAMESPACE {

// Register tile of the plane kernel: kRows output channels x kVectors vectors of positions,
// as many accumulators as leave registers for the loaded input vectors and one broadcast
// weight (AVX-512: 6 x 4 = 24 of 32 registers; AVX2 and SSE: 4 x 3 = 12 of 16).
constexpr int kRows = kRegisters >= 32 ? 6 : 4;
constexpr int kVectors = kRegisters >= 32 ? 4 : 3;
// Vectors of positions per depthwise tile (independent accumulators hide the FMA latency).
constexpr int kDepthwiseVectors = 4;

inline int64_t smaller(int64_t a, int64_t b) { return a < b ? a : b; }

// The epilogue of one vector of channel c's outputs: scale, shift, residual, clamp.
struct ChannelEpilogue {
  V scale, shift, lo, hi;
  bool scaled, clamped;
  const float* residual;  // channel c's residual, indexed like its output

  ChannelEpilogue(const Epilogue& e, int64_t c, int64_t residual_stride)
      : scale(set1(e.scale ? e.scale[c] : 1.0f)), shift(set1(e.shift ? e.shift[c] : 0.0f)),
        lo(set1(e.lo)), hi(set1(e.hi)), scaled(e.scale != nullptr),
        clamped(e.lo != -__builtin_inff() || e.hi != __builtin_inff()),
        residual(e.residual ? e.residual + c * residual_stride : nullptr) {}

  // `count` < kLanes marks a last, partial vector at position q.
  V apply(V acc, int64_t q, int count) const {
    V y = scaled ? fma(acc, scale, shift) : add(acc, shift);
    if (residual) y = add(y, count < kLanes ? load_first(residual + q, count) : load(residual + q));
    // max and min would turn a NaN into a bound: skipped when there is nothing to clamp.
    return clamped ? min(max(y, lo), hi) : y;
  }
};

inline void store_vector(float* p, V a, int count) {
  if (count < kLanes)
    store_first(p, a, count);
  else
    store(p, a);
}

// ---- plane kernel ---------------------------------------------------------------------------

// R channels x N vectors of positions, reading the input from `from` and writing the output
// from `to`; the last vector holds `tail` positions (kLanes unless Partial). `w` is the block's
// packed weights, tap-major with R per tap.
template <int R, int N, bool Partial>
void plane_tile(const PlaneConvArgs& a, const float* w, int64_t channel, int64_t from, int64_t to,
                int tail) {
  V acc[R][N];
  for (int r = 0; r < R; ++r)
    for (int n = 0; n < N; ++n) acc[r][n] = zero();
  const float* in = a.input + from;
  for (int64_t k = 0; k < a.tap_count; ++k) {
    const float* src = in + a.taps[k];
    V x[N];
    for (int n = 0; n < N; ++n)
      x[n] = Partial && n == N - 1 ? load_first(src + n * kLanes, tail) : load(src + n * kLanes);
    const float* wk = w + k * R;
    for (int r = 0; r < R; ++r) {
      const V wr = set1(wk[r]);
      for (int n = 0; n < N; ++n) acc[r][n] = fma(wr, x[n], acc[r][n]);
    }
  }
  for (int r = 0; r < R; ++r) {
    const ChannelEpilogue e(a.epilogue, channel + r, a.output_stride);
    float* out = a.output + (channel + r) * a.output_stride + to;
    for (int n = 0; n < N; ++n) {
      const int count = Partial && n == N - 1 ? tail : kLanes;
      store_vector(out + n * kLanes, e.apply(acc[r][n], to + n * kLanes, count), count);
    }
  }
}

// Row by row: N vectors, each at its own place (`from`, `to`), the n-th holding count[n]
// positions of one output row. The loads are whole vectors (the lanes past a row read the
// padding, the next row or the buffer's slack, and are never stored), so the tap loop runs
// without masks; only the stores are partial.
struct RowVectors {
  int64_t from[kVectors], to[kVectors];
  int count[kVectors];
};

// The `n`-th vector of the row-by-row output, and how many positions it holds.
inline void row_vector(int64_t positions, int64_t input_row_stride, int64_t output_row_stride,
                       int64_t per_row, int64_t v, int64_t& from, int64_t& to, int& count) {
  const int64_t row = v / per_row, q = (v % per_row) * kLanes;
  from = row * input_row_stride + q;
  to = row * output_row_stride + q;
  count = static_cast<int>(smaller(kLanes, positions - q));
}

template <int R, int N>
void plane_rows_tile(const PlaneConvArgs& a, const float* w, int64_t channel, const RowVectors& v) {
  V acc[R][N];
  for (int r = 0; r < R; ++r)
    for (int n = 0; n < N; ++n) acc[r][n] = zero();
  for (int64_t k = 0; k < a.tap_count; ++k) {
    const float* src = a.input + a.taps[k];
    V x[N];
    for (int n = 0; n < N; ++n) x[n] = load(src + v.from[n]);
    const float* wk = w + k * R;
    for (int r = 0; r < R; ++r) {
      const V wr = set1(wk[r]);
      for (int n = 0; n < N; ++n) acc[r][n] = fma(wr, x[n], acc[r][n]);
    }
  }
  for (int r = 0; r < R; ++r) {
    const ChannelEpilogue e(a.epilogue, channel + r, a.output_stride);
    float* out = a.output + (channel + r) * a.output_stride;
    for (int n = 0; n < N; ++n)
      store_vector(out + v.to[n], e.apply(acc[r][n], v.to[n], v.count[n]), v.count[n]);
  }
}

using PlaneRowsTile = void (*)(const PlaneConvArgs&, const float*, int64_t, const RowVectors&);
template <int R, int... Ns>
constexpr void fill_rows_row(PlaneRowsTile (&row)[kVectors], std::integer_sequence<int, Ns...>) {
  ((row[Ns] = &plane_rows_tile<R, Ns + 1>), ...);
}
struct PlaneRowsTiles {
  PlaneRowsTile tiles[kRows][kVectors];
  template <int... Rs>
  constexpr explicit PlaneRowsTiles(std::integer_sequence<int, Rs...>) : tiles{} {
    (fill_rows_row<Rs + 1>(tiles[Rs], std::make_integer_sequence<int, kVectors>{}), ...);
  }
};
constexpr PlaneRowsTiles kPlaneRowsTiles{std::make_integer_sequence<int, kRows>{}};

void plane_conv_rows(const PlaneConvArgs& a) {
  const int64_t blocks = (a.channels + kRows - 1) / kRows;
  const int64_t per_row = (a.positions + kLanes - 1) / kLanes;
  const int64_t total = a.rows * per_row;
  RowVectors v{};
  for (int64_t v0 = 0; v0 < total; v0 += kVectors) {
    const int64_t vectors = smaller(kVectors, total - v0);
    for (int64_t n = 0; n < vectors; ++n)
      row_vector(a.positions, a.input_row_stride, a.output_row_stride, per_row, v0 + n, v.from[n],
                 v.to[n], v.count[n]);
    const float* w = a.weights;
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t c0 = a.channels * b / blocks, c1 = a.channels * (b + 1) / blocks;
      kPlaneRowsTiles.tiles[c1 - c0 - 1][vectors - 1](a, w, c0, v);
      w += (c1 - c0) * a.tap_count;
    }
  }
}

using PlaneTile = void (*)(const PlaneConvArgs&, const float*, int64_t, int64_t, int64_t, int);

struct TilePair {
  PlaneTile full, partial;
};
// tiles[R - 1][N - 1]
template <int R, int... Ns>
constexpr void fill_plane_row(TilePair (&row)[kVectors], std::integer_sequence<int, Ns...>) {
  ((row[Ns] = TilePair{&plane_tile<R, Ns + 1, false>, &plane_tile<R, Ns + 1, true>}), ...);
}
struct PlaneTiles {
  TilePair tiles[kRows][kVectors];
  template <int... Rs>
  constexpr explicit PlaneTiles(std::integer_sequence<int, Rs...>) : tiles{} {
    (fill_plane_row<Rs + 1>(tiles[Rs], std::make_integer_sequence<int, kVectors>{}), ...);
  }
};
constexpr PlaneTiles kPlaneTiles{std::make_integer_sequence<int, kRows>{}};

// Blocks of output channels (sizes as equal as they can be, at most kRows each) inside the
// blocks of kVectors vectors of positions, so one stretch of the input stays in the L1 cache
// while every block of weights passes over it.
void plane_conv(const PlaneConvArgs& a) {
  if (a.rows > 1) return plane_conv_rows(a);
  const int64_t blocks = (a.channels + kRows - 1) / kRows;
  const int64_t span = kVectors * kLanes;
  for (int64_t q = 0; q < a.positions; q += span) {
    const int64_t count = smaller(span, a.positions - q);
    const int64_t vectors = (count + kLanes - 1) / kLanes;
    const int tail = static_cast<int>(count - (vectors - 1) * kLanes);
    const float* w = a.weights;
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t c0 = a.channels * b / blocks, c1 = a.channels * (b + 1) / blocks;
      const auto& pair = kPlaneTiles.tiles[c1 - c0 - 1][vectors - 1];
      (tail < kLanes ? pair.partial : pair.full)(a, w, c0, q, q, tail);
      w += (c1 - c0) * a.tap_count;
    }
  }
}

// ---- depthwise kernel -----------------------------------------------------------------------

template <int N, bool Partial>
void depthwise_tile(const DepthwiseConvArgs& a, int64_t c, int64_t from, int64_t to, int tail) {
  V acc[N];
  for (int n = 0; n < N; ++n) acc[n] = zero();
  const float* in = a.input + c * a.input_stride + from;
  const float* w = a.weights + c * a.tap_count;
  for (int64_t k = 0; k < a.tap_count; ++k) {
    const float* src = in + a.taps[k];
    const V wk = set1(w[k]);
    for (int n = 0; n < N; ++n)
      acc[n] = fma(wk, Partial && n == N - 1 ? load_first(src + n * kLanes, tail)
                                             : load(src + n * kLanes),
                   acc[n]);
  }
  const ChannelEpilogue e(a.epilogue, c, a.output_stride);
  float* out = a.output + c * a.output_stride + to;
  for (int n = 0; n < N; ++n) {
    const int count = Partial && n == N - 1 ? tail : kLanes;
    store_vector(out + n * kLanes, e.apply(acc[n], to + n * kLanes, count), count);
  }
}

using DepthwiseTile = void (*)(const DepthwiseConvArgs&, int64_t, int64_t, int64_t, int);
template <int... Ns>
constexpr auto depthwise_tiles(std::integer_sequence<int, Ns...>) {
  struct Table {
    DepthwiseTile full[kDepthwiseVectors], partial[kDepthwiseVectors];
  };
  return Table{{&depthwise_tile<Ns + 1, false>...}, {&depthwise_tile<Ns + 1, true>...}};
}
constexpr auto kDepthwiseTiles =
    depthwise_tiles(std::make_integer_sequence<int, kDepthwiseVectors>{});

// Row by row, as plane_rows_tile: whole-vector loads, partial stores.
template <int N>
void depthwise_rows_tile(const DepthwiseConvArgs& a, int64_t c, const int64_t* from,
                         const int64_t* to, const int* count) {
  V acc[N];
  for (int n = 0; n < N; ++n) acc[n] = zero();
  const float* in = a.input + c * a.input_stride;
  const float* w = a.weights + c * a.tap_count;
  for (int64_t k = 0; k < a.tap_count; ++k) {
    const float* src = in + a.taps[k];
    const V wk = set1(w[k]);
    for (int n = 0; n < N; ++n) acc[n] = fma(wk, load(src + from[n]), acc[n]);
  }
  const ChannelEpilogue e(a.epilogue, c, a.output_stride);
  float* out = a.output + c * a.output_stride;
  for (int n = 0; n < N; ++n) store_vector(out + to[n], e.apply(acc[n], to[n], count[n]), count[n]);
}

using DepthwiseRowsTile = void (*)(const DepthwiseConvArgs&, int64_t, const int64_t*,
                                   const int64_t*, const int*);
template <int... Ns>
constexpr auto depthwise_rows_tiles(std::integer_sequence<int, Ns...>) {
  struct Table {
    DepthwiseRowsTile tiles[kDepthwiseVectors];
  };
  return Table{{&depthwise_rows_tile<Ns + 1>...}};
}
constexpr auto kDepthwiseRowsTiles =
    depthwise_rows_tiles(std::make_integer_sequence<int, kDepthwiseVectors>{});

void depthwise_conv_rows(const DepthwiseConvArgs& a) {
  const int64_t per_row = (a.positions + kLanes - 1) / kLanes;
  const int64_t total = a.rows * per_row;
  int64_t from[kDepthwiseVectors], to[kDepthwiseVectors];
  int count[kDepthwiseVectors];
  for (int64_t c = 0; c < a.channels; ++c)
    for (int64_t v0 = 0; v0 < total; v0 += kDepthwiseVectors) {
      const int64_t vectors = smaller(kDepthwiseVectors, total - v0);
      for (int64_t n = 0; n < vectors; ++n)
        row_vector(a.positions, a.input_row_stride, a.output_row_stride, per_row, v0 + n,
                   from[n], to[n], count[n]);
      kDepthwiseRowsTiles.tiles[vectors - 1](a, c, from, to, count);
    }
}

void depthwise_conv(const DepthwiseConvArgs& a) {
  if (a.rows > 1) return depthwise_conv_rows(a);
  const int64_t span = kDepthwiseVectors * kLanes;
  for (int64_t c = 0; c < a.channels; ++c)
    for (int64_t q = 0; q < a.positions; q += span) {
      const int64_t count = smaller(span, a.positions - q);
      const int64_t vectors = (count + kLanes - 1) / kLanes;
      const int tail = static_cast<int>(count - (vectors - 1) * kLanes);
      (tail < kLanes ? kDepthwiseTiles.partial : kDepthwiseTiles.full)[vectors - 1](a, c, q, q,
                                                                                   tail);
    }
}

// ---- epilogue over rows ---------------------------------------------------------------------

void apply_epilogue(const EpilogueArgs& a) {
  const int64_t plane = a.rows * a.width;
  for (int64_t c = 0; c < a.channels; ++c) {
    const ChannelEpilogue e(a.epilogue, c, plane);
    for (int64_t y = 0; y < a.rows; ++y) {
      const float* src = a.source + c * a.source_channel_stride + y * a.source_row_stride;
      float* out = a.output + c * plane + y * a.width;
      for (int64_t x = 0; x < a.width; x += kLanes) {
        const int count = static_cast<int>(smaller(kLanes, a.width - x));
        const V v = count < kLanes ? load_first(src + x, count) : load(src + x);
        store_vector(out + x, e.apply(v, y * a.width + x, count), count);
      }
    }
  }
}

// ---- padded planes ---------------------------------------------------------------------------

void pad_rows(const PadRowsArgs& a) {
  for (int64_t r = 0; r < a.rows; ++r) {
    const float* src = a.source + r * a.source_stride;
    float* out = a.target + r * a.target_stride;
    for (int64_t i = 0; i < a.left; ++i) out[i] = 0.0f;
    out += a.left;
    int64_t x = 0;
    for (; x + kLanes <= a.width; x += kLanes) store(out + x, load(src + x));
    if (x < a.width) {
      const int count = static_cast<int>(a.width - x);
      store_first(out + x, load_first(src + x, count), count);
    }
    for (int64_t i = 0; i < a.right; ++i) out[a.width + i] = 0.0f;
  }
}

constexpr ConvKernels table(Isa isa) {
  return {isa, kLanes, kRows, &plane_conv, &depthwise_conv, &apply_epilogue, &pad_rows};
}

}  // namespace shrink::kernels::SHRINK_VEC_NAMESPACE
