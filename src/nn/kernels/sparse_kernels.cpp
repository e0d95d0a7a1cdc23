#include "nn/kernels/sparse_kernels.hpp"

#include "core/environment.hpp"
#include "nn/kernels/sparse_layers.hpp"
#include "shrink/core/error.hpp"

#include <algorithm>
#include <limits>

namespace shrink::kernels {

// One table per compiled instruction set (isa/*.cpp).
extern const SparseKernels kPortableSparseKernels, kAvx2SparseKernels, kAvx512SparseKernels;

SparseRows compress_rows(const float* dense, int64_t rows, int64_t cols) {
  SparseRows s;
  s.rows = rows;
  s.cols = cols;
  int64_t nonzeros = 0;
  for (int64_t i = 0; i < rows * cols; ++i) nonzeros += dense[i] != 0.0f;
  // The kernels index with 32-bit offsets (a gather takes 32-bit lanes).
  require(nonzeros <= std::numeric_limits<int32_t>::max() &&
              cols <= std::numeric_limits<int32_t>::max(),
          "a sparse weight needs fewer than 2^31 non-zeros and columns");
  s.start.reserve(static_cast<size_t>(rows + 1));
  s.index.reserve(static_cast<size_t>(nonzeros));
  s.value.reserve(static_cast<size_t>(nonzeros));
  s.start.push_back(0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const float v = dense[r * cols + c];
      if (v == 0.0f) continue;
      s.index.push_back(static_cast<int32_t>(c));
      s.value.push_back(v);
    }
    s.start.push_back(static_cast<int32_t>(s.value.size()));
  }
  return s;
}

SparseSlices compress_slices(const float* dense, int64_t rows, int64_t cols, int lanes, int table) {
  require(lanes > 0 && table > 0 && table <= 256, "a slice needs lanes and a table of 1-256 inputs");
  require(rows <= std::numeric_limits<int32_t>::max() && cols <= std::numeric_limits<int32_t>::max(),
          "a sparse weight needs fewer than 2^31 rows and columns");
  SparseSlices s;
  s.rows = rows;
  s.cols = cols;
  s.lanes = lanes;
  s.table = table;
  s.start.push_back(0);
  // Rows by non-zero count, most first; equal counts keep their order.
  std::vector<int64_t> counts(static_cast<size_t>(rows), 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) counts[static_cast<size_t>(r)] += dense[r * cols + c] != 0.0f;
  s.row.resize(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) s.row[static_cast<size_t>(r)] = static_cast<int32_t>(r);
  std::stable_sort(s.row.begin(), s.row.end(), [&](int32_t a, int32_t b) {
    return counts[static_cast<size_t>(a)] > counts[static_cast<size_t>(b)];
  });
  const auto lane_count = static_cast<size_t>(lanes);
  std::vector<int64_t> next(lane_count);  // each lane's next column in the window
  // Appends one step (all lanes zero, reading the table at `base`) and returns its number.
  const auto add_step = [&](int64_t base) {
    const size_t step = s.base.size();
    s.base.push_back(static_cast<int32_t>(base));
    if (step % 4 == 0) s.offset.resize(s.offset.size() + 4 * lane_count, 0);
    s.value.resize(s.value.size() + lane_count, 0.0f);
    return step;
  };
  for (int64_t row0 = 0; row0 < rows; row0 += lanes) {
    for (int64_t c0 = 0; c0 < cols; c0 += table) {
      const int64_t c1 = std::min(c0 + table, cols);
      const int64_t base = std::max<int64_t>(0, std::min(c0, cols - table));
      std::fill(next.begin(), next.end(), c0);
      // One step per round in which some row of the slice still has a non-zero in [c0, c1).
      for (;;) {
        size_t step = 0;
        bool any = false;
        for (int l = 0; l < lanes && row0 + l < rows; ++l) {
          const float* row = dense + s.row[static_cast<size_t>(row0 + l)] * cols;
          int64_t& c = next[static_cast<size_t>(l)];
          while (c < c1 && row[c] == 0.0f) ++c;
          if (c == c1) continue;
          if (!any) step = add_step(base);
          any = true;
          // Four steps share a block of offsets: byte step % 4 of each lane's four.
          s.value[step * lane_count + static_cast<size_t>(l)] = row[c];
          s.offset[(step / 4 * lane_count + static_cast<size_t>(l)) * 4 + step % 4] =
              static_cast<uint8_t>(c - base);
          ++c;
        }
        if (!any) break;
      }
    }
    // Padded to a multiple of four steps with zeros (the kernel takes four at a time).
    while (s.base.size() % 4 != 0) add_step(0);
    require(s.base.size() <= static_cast<size_t>(std::numeric_limits<int32_t>::max()),
            "a sparse weight needs fewer than 2^31 steps");
    s.start.push_back(static_cast<int32_t>(s.base.size()));
  }
  return s;
}

bool sparse_execution_enabled() {
  static const bool enabled = auto_or_off("SHRINK_SPARSE", "a sparse execution");
  return enabled;
}

std::pair<int64_t, int64_t> balanced_rows(const SparseRows& w, int t, int nt) {
  const auto cut = [&](int i) -> int64_t {
    if (i == nt) return w.rows;
    const int64_t share = w.nonzeros() * i / nt;
    return std::lower_bound(w.start.begin(), w.start.end() - 1, share) - w.start.begin();
  };
  return {cut(t), cut(t + 1)};
}

const SparseKernels& sparse_kernels(Isa isa) {
  return kernels_for(isa, kPortableSparseKernels, SHRINK_AVX2_TABLE(kAvx2SparseKernels),
                     SHRINK_AVX512_TABLE(kAvx512SparseKernels));
}

const SparseKernels& sparse_kernels() {
  static const SparseKernels& best = sparse_kernels(best_isa());
  return best;
}

}  // namespace shrink::kernels
