#pragma once
// The hand-written convolution kernels, one table per instruction set (isa.hpp). Each row is
// compiled from the same source (isa/conv_kernels_impl.hpp) for AVX-512, AVX2 + FMA and plain
// SSE2; conv_kernels() picks the widest one this CPU runs. tests/nn/kernels_test.cpp checks every
// row this CPU runs against a slow reference (im2col, a plain matrix product, the epilogue).
//
// The kernels see one sample (and one group) at a time and know nothing of the graph. Their
// output passes through an epilogue on its way to memory, which is how a convolution, its
// bias, a BatchNorm folded into it, a residual add and a ReLU run as one pass over the output:
//
//   y[c][q] = clamp(acc[c][q] * scale[c] + shift[c] + residual[c][q], lo, hi)
#include "isa.hpp"

#include <cstdint>
#include <limits>

namespace shrink::kernels {

// The per-ISA sources only read these structs; they never construct one.
struct Epilogue {
  const float* scale = nullptr;     // per output channel; null: 1
  const float* shift = nullptr;     // per output channel; null: 0
  const float* residual = nullptr;  // laid out like the output; null: none
  // The clamp; with both bounds infinite none is applied, so a NaN stays a NaN.
  float lo = -std::numeric_limits<float>::infinity();
  float hi = std::numeric_limits<float>::infinity();
};

// A convolution as a product of packed weights with shifted windows of the input ("plane"
// kernel): output position q of channel c is sum_k weights[c][k] * input[taps[k] + q]. The
// input holds the zero-padded planes of every input channel, split by stride phase so that a
// run of consecutive positions reads a run of consecutive floats (conv_forward.cpp), and q runs
// over the output rows laid end to end at the planes' width: a row's last few positions are
// junk that the caller drops (or none, when the planes are as wide as the output).
// Vectorized over positions, so any channel count uses every lane.
//
// Or row by row: with rows > 1 the kernel runs `rows` stretches of `positions` positions, row r
// reading the input from r * input_row_stride and writing the output (and reading the
// residual) from r * output_row_stride, so a padded or strided convolution's output rows go
// straight into a dense output, with no junk positions computed or dropped.
struct PlaneConvArgs {
  const float* input;
  const int32_t* taps;    // offset of each tap in `input`
  int64_t tap_count;
  const float* weights;   // packed by pack_plane_weights
  int64_t channels;       // output channels
  int64_t positions;      // q runs over [0, positions) (per row)
  float* output;          // channel c, position q at output[c * output_stride + q]
  int64_t output_stride;
  Epilogue epilogue;      // residual indexed like output
  int64_t rows = 1, input_row_stride = 0, output_row_stride = 0;
};

// Depthwise convolution (one input channel per output channel): each channel's taps over its
// own planes, vectorized over positions like the plane kernel.
struct DepthwiseConvArgs {
  const float* input;     // channel c's planes start at input + c * input_stride
  int64_t input_stride;
  const int32_t* taps;    // offsets within one channel's planes
  int64_t tap_count;
  const float* weights;   // [channels][tap_count]
  int64_t channels;
  int64_t positions;
  float* output;
  int64_t output_stride;
  Epilogue epilogue;
  int64_t rows = 1, input_row_stride = 0, output_row_stride = 0;  // as PlaneConvArgs
};

// Applies the epilogue while copying rows of `width` values out of rows `source_row_stride`
// apart (dropping the junk positions of a plane kernel's output), into a dense
// [channels][rows][width] output. source == output (with equal strides) works in place.
struct EpilogueArgs {
  const float* source;
  int64_t source_channel_stride, source_row_stride;
  float* output;          // channel c, row y, column x at output[(c * rows + y) * width + x]
  int64_t channels, rows, width;
  Epilogue epilogue;      // residual laid out like output
};

// Copies `rows` rows of `width` floats, `source_stride` apart, into rows `target_stride` apart
// with `left` zeros before and `right` zeros after each: the inside of a zero-padded plane.
struct PadRowsArgs {
  const float* source;
  int64_t source_stride;
  float* target;
  int64_t target_stride;
  int64_t rows, width, left, right;
};

struct ConvKernels {
  Isa isa;
  int lanes;              // floats per vector
  int plane_rows;         // most output channels a plane tile computes at once
  void (*plane_conv)(const PlaneConvArgs&);
  void (*depthwise_conv)(const DepthwiseConvArgs&);
  void (*apply_epilogue)(const EpilogueArgs&);
  void (*pad_rows)(const PadRowsArgs&);
};

// The kernels of one instruction set (it must be in runnable_isas()), or the best one.
const ConvKernels& conv_kernels(Isa isa);
const ConvKernels& conv_kernels();

// Packs OIHW weights [channels][tap_count] for plane_conv: blocks of at most `plane_rows`
// channels (sizes as equal as they can be), each block tap-major. `packed` needs
// channels * tap_count floats.
void pack_plane_weights(const float* weights, int64_t channels, int64_t tap_count,
                        int plane_rows, float* packed);

}  // namespace shrink::kernels
