#pragma once
// The int8 layers of a lowered QDQ model (nn/int8_execution.hpp) on oneDNN primitives: the
// input arrives as 8-bit activation codes (whole-number floats, as QuantizeLinear writes them),
// the weight as 8-bit symmetric codes with a scale per output channel (the affine quantizer of
// quant.int8), and one primitive computes int8 x int8 -> int32, adds the bias, applies the
// fused ReLU and either requantizes to the next layer's codes or dequantizes to fp32:
//
//   acc_c = sum_k (x_k - zx) w_ck                              (exact, int32)
//   fp32 out:      y_c = relu(sx sw_c acc_c + b_c)
//   requantized:   q_c = saturate(round_half_even(relu(sx sw_c acc_c + b_c) / sy) + zy)
//
// which is what DequantizeLinear -> layer -> ReLU -> QuantizeLinear computes in fp32, up to the
// float rounding of the sums (a requantized code may differ by one where the fp32 value sits
// on a rounding boundary). oneDNN 2.x adds the bias before its output scale, so the bias goes
// in as b_c / (sx sw_c) and the output scale is sx sw_c (/ sy when requantizing).
//
// Without VNNI (an AVX2 or SSE4.1 cap, or CPU), oneDNN's kernels add pairs of u8 x s8 products
// in int16 with saturation (vpmaddubsw), which 255 x 127 + 255 x 127 overflows. Weight codes
// within -64..64 (7-bit weights: quant.int8's reduce_range) cannot overflow it, since any pair
// stays within 2 x 255 x 64 = 32,640, so they run in one pass. Wider codes make the layers
// split the reduction in two: each weight w becomes the halves w - trunc(w / 2) and trunc(w / 2),
// both within -64..64, against the input repeated twice: exact, at twice the multiply-adds.
//
// The primitive and the reordered weights are cached per op, rebuilt when the weight or bias
// changes (Parameter::effective_version) or the batch size does (the last few sizes stay).
#include "primitives_by_batch.hpp"
#include "shrink/core/tensor.hpp"
#include "shrink/nn/parameter.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace shrink::kernels {

// One per-tensor activation quantization (QuantizeLinear's attributes).
struct ActivationCodes {
  float scale = 1.0f;
  int32_t zero_point = 0;
  bool is_signed = false;  // int8 codes, else uint8
};

// Whether `weight` holds 8-bit symmetric affine codes (int8 -127..127), or 7-bit ones
// (-63..63, quant.int8's reduce_range), per output channel or per tensor: the weights the int8
// layers take.
bool has_int8_weights(const Parameter& weight);

// The int8 codes of such a weight, in its own layout, and one scale per output channel: the
// channel of element i is i / (numel / channels) when per channel (the first axis), else all
// share one scale (repeated `out_channels` times).
struct Int8Weights {
  std::vector<int8_t> codes;
  std::vector<float> scales;
};
Int8Weights int8_weights(const Parameter& weight, int64_t out_channels);

// The largest weight code whose u8 x s8 pair sums cannot saturate int16 without VNNI.
constexpr int kSinglePassMaxCode = 64;
// Whether an int8 layer with these weight codes splits them in two halves on this CPU (under
// SHRINK_ISA): no VNNI and a code beyond +-kSinglePassMaxCode.
bool splits_weights(const std::vector<int8_t>& codes);
bool splits_weights(const Parameter& weight);

// The epilogue both layer kinds share: what follows the int32 product.
struct Int8Epilogue {
  ActivationCodes input;
  // The input arrives as fp32 values and the layer quantizes it itself (QuantizeLinear's
  // arithmetic: round half to even of x / scale, plus the zero point, saturated), sparing a
  // pass over the activation; otherwise it arrives as codes.
  bool quantize_input = false;
  std::optional<ActivationCodes> output;  // requantize to these codes; fp32 when empty
  bool relu = false;
};

// y [N, out] = x [N, in] W^T + b for Linear (weight [out, in]) or x W for MatMul (weight
// [in, out], per tensor); x holds the input's codes.
class Int8Matmul {
 public:
  Int8Matmul(Int8Epilogue epilogue, bool weight_in_by_out);
  ~Int8Matmul();
  Int8Matmul(Int8Matmul&&) noexcept;
  Int8Matmul& operator=(Int8Matmul&&) noexcept;

  void forward(const Parameter& weight, const Parameter* bias, const Tensor& x, Tensor& y);
  // oneDNN's name of the kernel the last forward ran ("brg:avx512_core_vnni"); empty before.
  const std::string& implementation() const { return implementation_; }

 private:
  struct Cached;
  Int8Epilogue epilogue_;
  bool weight_in_by_out_;
  uint64_t weight_version_ = 0, bias_version_ = 0;
  std::optional<bool> split_;  // splits_weights() of the current weight
  PrimitivesByBatch<Cached> cache_;
  std::vector<uint8_t> source_, destination_;   // the codes as bytes
  std::string implementation_;
};

// The geometry of a Conv2d (one group): kernel, stride, padding (both sides), dilation.
struct ConvolutionGeometry {
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;
};

// A max pooling fused behind the convolution (it commutes with requantization): window,
// stride and padding before, per axis. The padding after is what the output size implies.
struct PoolingGeometry {
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, pad_top = 0, pad_left = 0;
};

// y [N, O, OH, OW] (already sized; pooled when a pooling is given) = conv(x [N, C, H, W],
// weight [O, C, kh, kw]) + b, for
// Conv2d with one group; x holds the input's codes. oneDNN runs it on channels-last bytes, so
// oneDNN reorders transpose the input's bytes in and the output back to NCHW floats. An int8 (signed)
// input goes in as uint8 codes + 128 with its zero point moved by 128: the same sums, on the
// u8 x s8 kernels every oneDNN path has.
class Int8Convolution {
 public:
  Int8Convolution(Int8Epilogue epilogue, ConvolutionGeometry geometry,
                  std::optional<PoolingGeometry> pool = std::nullopt);
  ~Int8Convolution();
  Int8Convolution(Int8Convolution&&) noexcept;
  Int8Convolution& operator=(Int8Convolution&&) noexcept;

  void forward(const Parameter& weight, const Parameter* bias, const Tensor& x, Tensor& y);
  const std::string& implementation() const { return implementation_; }

 private:
  struct Cached;
  Int8Epilogue epilogue_;
  ConvolutionGeometry geometry_;
  std::optional<PoolingGeometry> pool_;
  uint64_t weight_version_ = 0, bias_version_ = 0;
  std::optional<bool> split_;  // splits_weights() of the current weight
  PrimitivesByBatch<Cached> cache_;
  std::vector<uint8_t> pooled_;  // the pooled codes, channels-last
  std::vector<uint8_t> planar_, source_, destination_;  // destination: bytes of codes or floats
  std::string implementation_;
};

// Codes held as whole-number floats <-> bytes (uint8, or int8 stored in a byte).
void codes_to_bytes(const float* codes, int64_t count, bool is_signed, uint8_t* bytes);
// The input of an int8 layer as bytes: its codes, or (quantize_input) the codes of its values.
void input_to_bytes(const float* x, int64_t count, const Int8Epilogue& epilogue, uint8_t* bytes);
void bytes_to_codes(const uint8_t* bytes, int64_t count, bool is_signed, float* codes);

}  // namespace shrink::kernels
