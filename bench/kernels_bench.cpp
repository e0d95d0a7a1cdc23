// GFLOP/s of the compute-heavy ops at LeNet shapes (forward and backward), counted as 2 * MACs
// per forward and 4 * MACs per backward (input and weight gradients); the binary Linear cases
// compare the XNOR-popcount kernel with the float GEMM on the same layer. Run with
// --benchmark_counters_tabular=true; the thread count comes from SHRINK_THREADS (default 2).
#include "../src/nn/kernels/xnor_gemm.hpp"
#include "bench_threads.hpp"
#include "peak_fma.hpp"
#include "shrink/core/random.hpp"
#include "shrink/core/threading.hpp"
#include "shrink/nn/op.hpp"
#include "shrink/nn/quantizer.hpp"

#include <Eigen/Core>
#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

namespace shrink {
namespace {

struct Fixture {
  std::unique_ptr<Op> op;
  Tensor x, y, dy, dx;
  std::vector<Parameter> params;
  OpArgs args;
  double macs = 0.0;

  Fixture(const std::string& type, const nlohmann::json& attributes, const Shape& input) {
    set_num_threads(bench_threads());
    op = make_op(type, attributes);
    Rng rng(1);
    x = Tensor(input);
    for (float& v : x) v = rng.uniform(-1.0f, 1.0f);
    for (const ParameterSpec& spec : op->parameter_specs({input})) {
      Parameter p;
      p.name = spec.suffix;
      p.value = Tensor(spec.shape);
      for (float& v : p.value) v = rng.uniform(-0.1f, 0.1f);
      p.grad = Tensor(spec.shape);
      params.push_back(std::move(p));
    }
    args.inputs = {&x};
    for (auto& p : params) args.params.push_back(&p);
    args.training = true;
    y = Tensor(op->output_shape({input}));
    dy = Tensor(y.shape());
    for (float& v : dy) v = rng.uniform(-1.0f, 1.0f);
    macs = static_cast<double>(op->macs({input}));
  }
};

void run_forward(benchmark::State& state, const std::string& type, const nlohmann::json& attrs,
                 const Shape& input) {
  Fixture f(type, attrs, input);
  for (auto _ : state) {
    f.op->forward(f.args, f.y);
    benchmark::DoNotOptimize(f.y.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * f.macs * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

// input_grad=false is the first layer of a network: only the weight gradient is needed.
void run_backward(benchmark::State& state, const std::string& type,
                  const nlohmann::json& attrs, const Shape& input, bool input_grad) {
  Fixture f(type, attrs, input);
  f.op->forward(f.args, f.y);
  for (auto _ : state) {
    f.op->backward(f.args, f.y, f.dy, {input_grad ? &f.dx : nullptr});
    benchmark::DoNotOptimize(f.params[0].grad.data());
  }
  const double flops = (input_grad ? 4.0 : 2.0) * f.macs;
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

const nlohmann::json kLinear784{{"out_features", 300}};
const nlohmann::json kLinear300{{"out_features", 100}};
const nlohmann::json kConv1{{"out_channels", 20}, {"kernel_size", 5}};
const nlohmann::json kConv2{{"out_channels", 50}, {"kernel_size", 5}};

void linear_784_300_forward(benchmark::State& s) {
  run_forward(s, "Linear", kLinear784, {s.range(0), 784});
}
void linear_784_300_backward(benchmark::State& s) {
  run_backward(s, "Linear", kLinear784, {s.range(0), 784}, true);
}
void linear_300_100_forward(benchmark::State& s) {
  run_forward(s, "Linear", kLinear300, {s.range(0), 300});
}
void linear_300_100_backward(benchmark::State& s) {
  run_backward(s, "Linear", kLinear300, {s.range(0), 300}, true);
}
// Pooling moves data rather than computing: its counter is input GB/s, not GFLOP/s.
void max_pool_20x24x24_forward(benchmark::State& s) {
  Fixture f("MaxPool2d", {{"kernel_size", 2}}, {s.range(0), 20, 24, 24});
  for (auto _ : s) {
    f.op->forward(f.args, f.y);
    benchmark::DoNotOptimize(f.y.data());
  }
  s.counters["GB/s"] = benchmark::Counter(static_cast<double>(f.x.numel()) * sizeof(float) * 1e-9,
                                          benchmark::Counter::kIsIterationInvariantRate);
}
void conv_1_20_28x28_forward(benchmark::State& s) {
  run_forward(s, "Conv2d", kConv1, {s.range(0), 1, 28, 28});
}
// LeNet's first conv sees the model input, which needs no gradient.
void conv_1_20_28x28_backward_weights_only(benchmark::State& s) {
  run_backward(s, "Conv2d", kConv1, {s.range(0), 1, 28, 28}, false);
}
void conv_20_50_12x12_forward(benchmark::State& s) {
  run_forward(s, "Conv2d", kConv2, {s.range(0), 20, 12, 12});
}
// The VGG-style shapes of vgg-small: the first 3x3 layer and a 3x3 layer between blocks.
void conv_1_32_28x28_pad1_forward(benchmark::State& s) {
  run_forward(s, "Conv2d", {{"out_channels", 32}, {"kernel_size", 3}, {"padding", 1}},
              {s.range(0), 1, 28, 28});
}
void conv_32_64_14x14_pad1_forward(benchmark::State& s) {
  run_forward(s, "Conv2d", {{"out_channels", 64}, {"kernel_size", 3}, {"padding", 1}},
              {s.range(0), 32, 14, 14});
}
void conv_20_50_12x12_backward(benchmark::State& s) {
  run_backward(s, "Conv2d", kConv2, {s.range(0), 20, 12, 12}, true);
}
// The layer kinds of small CNNs and of pruned ones (scripts/make_cnn_fixtures.py): thin 3x3
// layers, strided 3x3, 1x1 (pointwise) and depthwise 3x3, stride 1 and 2.
void conv_16_16_28x28_pad1_forward(benchmark::State& s) {
  run_forward(s, "Conv2d", {{"out_channels", 16}, {"kernel_size", 3}, {"padding", 1}},
              {s.range(0), 16, 28, 28});
}
void conv_16_32_28x28_stride2_forward(benchmark::State& s) {
  run_forward(s, "Conv2d",
              {{"out_channels", 32}, {"kernel_size", 3}, {"padding", 1}, {"stride", 2}},
              {s.range(0), 16, 28, 28});
}
void pointwise_64_128_7x7_forward(benchmark::State& s) {
  run_forward(s, "Conv2d", {{"out_channels", 128}, {"kernel_size", 1}}, {s.range(0), 64, 7, 7});
}
void pointwise_24_16_28x28_forward(benchmark::State& s) {
  run_forward(s, "Conv2d", {{"out_channels", 16}, {"kernel_size", 1}}, {s.range(0), 24, 28, 28});
}
void depthwise_32_28x28_forward(benchmark::State& s) {
  run_forward(s, "Conv2d",
              {{"out_channels", 32}, {"kernel_size", 3}, {"padding", 1}, {"groups", 32}},
              {s.range(0), 32, 28, 28});
}
void depthwise_64_28x28_stride2_forward(benchmark::State& s) {
  run_forward(s, "Conv2d",
              {{"out_channels", 64}, {"kernel_size", 3}, {"padding", 1}, {"stride", 2},
               {"groups", 64}},
              {s.range(0), 64, 28, 28});
}

// A binary Linear, 1024 -> 1024 at batch 64: XNOR-Net weights (alpha * sign(w) per row) and +-1
// inputs, as behind a Sign. "fp32" runs shrink's float GEMM on those very values (the path any
// other Linear and training take), "xnor" the XNOR-popcount kernel that inference picks. Both
// count the float layer's 2 * MACs, so their GFLOP/s (effective, for xnor) compare directly.
void binary_linear_1024_forward(benchmark::State& s, bool xnor) {
  Fixture f("Linear", {{"out_features", 1024}}, {64, 1024});
  for (float& v : f.x) v = v < 0.0f ? -1.0f : 1.0f;
  f.args.training = false;
  Parameter& w = f.params[0];
  w.set_quantizer(make_quantizer("binary", {}, w.value));
  if (!xnor) {
    const Tensor values = w.effective();
    w.set_quantizer(nullptr);
    w.value = values;
  }
  for (auto _ : s) {
    f.op->forward(f.args, f.y);
    benchmark::DoNotOptimize(f.y.data());
  }
  s.SetLabel(xnor ? kernels::xnor_path_name(kernels::best_xnor_path()) : "openblas sgemm");
  s.counters["GFLOP/s"] = benchmark::Counter(2.0 * f.macs * 1e-9,
                                             benchmark::Counter::kIsIterationInvariantRate);
}
void linear_1024_binary_fp32_forward(benchmark::State& s) { binary_linear_1024_forward(s, false); }
void linear_1024_binary_xnor_forward(benchmark::State& s) { binary_linear_1024_forward(s, true); }

// The XNOR kernel alone, one thread, on packed operands, for each path the CPU runs (0 portable,
// 1 AVX2, 2 AVX-512).
void xnor_gemm_1024x1024_batch64(benchmark::State& s) {
  const auto path = static_cast<kernels::XnorPath>(s.range(0));
  if (!kernels::xnor_path_supported(path)) {
    s.SkipWithError("this CPU lacks the path");
    return;
  }
  Rng rng(2);
  std::vector<float> w(1024 * 1024), x(64 * 1024), y(64 * 1024);
  for (float& v : w) v = rng.uniform() < 0.5f ? -0.05f : 0.05f;
  for (float& v : x) v = rng.uniform() < 0.5f ? -1.0f : 1.0f;
  kernels::PackedBinaryRows packed;
  kernels::pack_binary_rows(path, w.data(), 1024, 1024, packed);
  std::vector<uint64_t> bits;
  kernels::pack_plus_minus_one(path, x.data(), 64, 1024, bits);
  for (auto _ : s) {
    kernels::xnor_gemm(bits.data(), 64, packed, nullptr, 0, packed.blocks(), y.data(), 1024);
    benchmark::DoNotOptimize(y.data());
  }
  s.SetLabel(kernels::xnor_path_name(path));
  s.counters["GFLOP/s"] = benchmark::Counter(2.0 * 64 * 1024 * 1024 * 1e-9,
                                             benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(peak_fma)->UseRealTime();
BENCHMARK(linear_784_300_forward)->Arg(64)->Arg(256)->UseRealTime();
BENCHMARK(linear_784_300_backward)->Arg(64)->Arg(256)->UseRealTime();
BENCHMARK(linear_300_100_forward)->Arg(64)->Arg(256)->UseRealTime();
BENCHMARK(linear_300_100_backward)->Arg(64)->Arg(256)->UseRealTime();
BENCHMARK(max_pool_20x24x24_forward)->Arg(256)->UseRealTime();
BENCHMARK(conv_1_20_28x28_forward)->Arg(64)->Arg(256)->UseRealTime();
BENCHMARK(conv_1_20_28x28_backward_weights_only)->Arg(64)->Arg(256)->UseRealTime();
BENCHMARK(conv_20_50_12x12_forward)->Arg(64)->Arg(256)->UseRealTime();
BENCHMARK(conv_1_32_28x28_pad1_forward)->Arg(64)->UseRealTime();
BENCHMARK(conv_32_64_14x14_pad1_forward)->Arg(64)->UseRealTime();
BENCHMARK(conv_20_50_12x12_backward)->Arg(64)->Arg(256)->UseRealTime();
BENCHMARK(conv_16_16_28x28_pad1_forward)->Arg(256)->UseRealTime();
BENCHMARK(conv_16_32_28x28_stride2_forward)->Arg(256)->UseRealTime();
BENCHMARK(pointwise_64_128_7x7_forward)->Arg(256)->UseRealTime();
BENCHMARK(pointwise_24_16_28x28_forward)->Arg(256)->UseRealTime();
BENCHMARK(depthwise_32_28x28_forward)->Arg(256)->UseRealTime();
BENCHMARK(depthwise_64_28x28_stride2_forward)->Arg(256)->UseRealTime();
BENCHMARK(linear_1024_binary_fp32_forward)->UseRealTime();
BENCHMARK(linear_1024_binary_xnor_forward)->UseRealTime();
BENCHMARK(xnor_gemm_1024x1024_batch64)->DenseRange(0, 2)->UseRealTime();

}  // namespace
}  // namespace shrink
