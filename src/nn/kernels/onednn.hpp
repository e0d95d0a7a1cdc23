#pragma once
// oneDNN (Debian libdnnl-dev) runs the int8 layers and the fp32 inference convolutions
// (nn/kernels/onednn_convolution.hpp): its matmul and convolution primitives have AVX-512
// (VNNI), AVX2 and SSE4.1 paths and pick one by the CPU, and they are kept up by the people who
// write x86 kernels for a living. One CPU engine and one in-order stream
// serve the whole process. oneDNN parallelises with the same OpenMP runtime as shrink, so it
// follows set_num_threads().
#include <oneapi/dnnl/dnnl.hpp>

#include <string>

namespace shrink::kernels {

// The process's engine and stream, made on first use. Before making them, SHRINK_ISA caps
// oneDNN too: avx512 at AVX-512 with VNNI (and BF16) but no AMX, avx2 at AVX2 without VNNI (an
// int8 multiply-add takes three instructions), portable at SSE4.1. Unset or native, oneDNN
// takes every path the CPU has (AMX tiles on a Sapphire Rapids), or what its own
// ONEDNN_MAX_CPU_ISA allows.
dnnl::engine& onednn_engine();
dnnl::stream& onednn_stream();

// The widest instruction set oneDNN's kernels use on this CPU under the cap:
// "avx512_core_amx", "avx512_core_bf16" (AVX-512 with VNNI), "avx2", "sse41", ...
std::string onednn_isa();

// Whether those kernels multiply int8 with VNNI (vpdpbusd: u8 x s8 summed straight into int32).
// Without it they use vpmaddubsw, which adds two u8 x s8 products into int16 with saturation:
// 255 x 127 x 2 overflows, so the int8 layers split each weight in two halves of at most 64
// (nn/kernels/int8_layers.hpp) to stay exact.
bool onednn_has_vnni();

}  // namespace shrink::kernels
