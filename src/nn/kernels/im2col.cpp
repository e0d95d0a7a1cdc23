#include "nn/kernels/im2col.hpp"

#include <algorithm>
#include <cstring>

namespace shrink::kernels {
namespace {

// Output columns [begin, end) whose input column ox*stride + offset lies inside [0, width).
struct ValidRange {
  int64_t begin, end;
};

ValidRange valid_columns(int64_t out_w, int64_t width, int64_t stride, int64_t offset) {
  const int64_t begin = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  const int64_t last = width - 1 - offset;  // ox*stride <= last
  const int64_t end = last < 0 ? 0 : std::min(out_w, last / stride + 1);
  return {std::min(begin, end), end};
}

}  // namespace

void im2col(const Conv2dGeometry& g, const float* image, float* columns) {
  const int64_t oh = g.out_h(), ow = g.out_w();
  const int64_t plane = g.height * g.width;
  for (int64_t c = 0; c < g.channels; ++c) {
    const float* src_plane = image + c * plane;
    for (int64_t ki = 0; ki < g.kernel_h; ++ki) {
      for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
        float* row = columns + ((c * g.kernel_h + ki) * g.kernel_w + kj) * oh * ow;
        const int64_t offset_w = kj * g.dilation_w - g.pad_w;
        const ValidRange valid = valid_columns(ow, g.width, g.stride_w, offset_w);
        for (int64_t y = 0; y < oh; ++y) {
          float* dst = row + y * ow;
          const int64_t iy = y * g.stride_h - g.pad_h + ki * g.dilation_h;
          if (iy < 0 || iy >= g.height) {
            std::fill(dst, dst + ow, 0.0f);
            continue;
          }
          std::fill(dst, dst + valid.begin, 0.0f);
          const float* src_row = src_plane + iy * g.width;
          if (g.stride_w == 1) {
            std::memcpy(dst + valid.begin, src_row + valid.begin + offset_w,
                        static_cast<size_t>(valid.end - valid.begin) * sizeof(float));
          } else {
            for (int64_t x = valid.begin; x < valid.end; ++x)
              dst[x] = src_row[x * g.stride_w + offset_w];
          }
          std::fill(dst + valid.end, dst + ow, 0.0f);
        }
      }
    }
  }
}

void col2im(const Conv2dGeometry& g, const float* columns, float* image) {
  const int64_t oh = g.out_h(), ow = g.out_w();
  const int64_t plane = g.height * g.width;
  std::fill(image, image + g.channels * plane, 0.0f);
  for (int64_t c = 0; c < g.channels; ++c) {
    float* dst_plane = image + c * plane;
    for (int64_t ki = 0; ki < g.kernel_h; ++ki) {
      for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
        const float* row = columns + ((c * g.kernel_h + ki) * g.kernel_w + kj) * oh * ow;
        const int64_t offset_w = kj * g.dilation_w - g.pad_w;
        const ValidRange valid = valid_columns(ow, g.width, g.stride_w, offset_w);
        for (int64_t y = 0; y < oh; ++y) {
          const int64_t iy = y * g.stride_h - g.pad_h + ki * g.dilation_h;
          if (iy < 0 || iy >= g.height) continue;
          const float* src = row + y * ow;
          float* dst_row = dst_plane + iy * g.width;
          if (g.stride_w == 1) {
            for (int64_t x = valid.begin; x < valid.end; ++x) dst_row[x + offset_w] += src[x];
          } else {
            for (int64_t x = valid.begin; x < valid.end; ++x)
              dst_row[x * g.stride_w + offset_w] += src[x];
          }
        }
      }
    }
  }
}

void im2col_reference(const Conv2dGeometry& g, const float* image, float* columns) {
  const int64_t oh = g.out_h(), ow = g.out_w();
  int64_t index = 0;
  for (int64_t c = 0; c < g.channels; ++c)
    for (int64_t ki = 0; ki < g.kernel_h; ++ki)
      for (int64_t kj = 0; kj < g.kernel_w; ++kj)
        for (int64_t y = 0; y < oh; ++y)
          for (int64_t x = 0; x < ow; ++x) {
            const int64_t iy = y * g.stride_h - g.pad_h + ki * g.dilation_h;
            const int64_t ix = x * g.stride_w - g.pad_w + kj * g.dilation_w;
            const bool inside = iy >= 0 && iy < g.height && ix >= 0 && ix < g.width;
            columns[index++] = inside ? image[(c * g.height + iy) * g.width + ix] : 0.0f;
          }
}

void col2im_reference(const Conv2dGeometry& g, const float* columns, float* image) {
  const int64_t oh = g.out_h(), ow = g.out_w();
  std::fill(image, image + g.channels * g.height * g.width, 0.0f);
  int64_t index = 0;
  for (int64_t c = 0; c < g.channels; ++c)
    for (int64_t ki = 0; ki < g.kernel_h; ++ki)
      for (int64_t kj = 0; kj < g.kernel_w; ++kj)
        for (int64_t y = 0; y < oh; ++y)
          for (int64_t x = 0; x < ow; ++x) {
            const int64_t iy = y * g.stride_h - g.pad_h + ki * g.dilation_h;
            const int64_t ix = x * g.stride_w - g.pad_w + kj * g.dilation_w;
            const float v = columns[index++];
            if (iy >= 0 && iy < g.height && ix >= 0 && ix < g.width)
              image[(c * g.height + iy) * g.width + ix] += v;
          }
}

}  // namespace shrink::kernels
