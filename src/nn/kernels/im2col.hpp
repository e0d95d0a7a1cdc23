#pragma once
// im2col / col2im for one image (one sample) in CHW layout. The column matrix has one row per
// (channel, kernel row, kernel column) in that order and one column per output pixel, so a
// convolution becomes weight[O, C*kh*kw] x columns[C*kh*kw, oh*ow], and the rows of one
// channel group are contiguous.
#include <cstdint>

namespace shrink::kernels {

struct Conv2dGeometry {
  int64_t channels = 1, height = 1, width = 1;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;

  // Output size along one axis; may be <= 0 for a kernel larger than the padded input.
  static int64_t output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                             int64_t dilation) {
    const int64_t span = dilation * (kernel - 1) + 1;
    const int64_t room = in + 2 * pad - span;
    return room < 0 ? 0 : room / stride + 1;
  }
  int64_t out_h() const { return output_size(height, kernel_h, stride_h, pad_h, dilation_h); }
  int64_t out_w() const { return output_size(width, kernel_w, stride_w, pad_w, dilation_w); }
  int64_t column_rows() const { return channels * kernel_h * kernel_w; }
  int64_t column_cols() const { return out_h() * out_w(); }
  bool operator==(const Conv2dGeometry&) const = default;
};

// columns[C*kh*kw, oh*ow] from image[C, H, W]; padding reads as zero.
void im2col(const Conv2dGeometry& g, const float* image, float* columns);
void im2col_reference(const Conv2dGeometry& g, const float* image, float* columns);

// The adjoint of im2col: image[C, H, W] is overwritten with the sum of every column entry that
// reads each pixel (entries that fall in the padding are dropped).
void col2im(const Conv2dGeometry& g, const float* columns, float* image);
void col2im_reference(const Conv2dGeometry& g, const float* columns, float* image);

}  // namespace shrink::kernels
