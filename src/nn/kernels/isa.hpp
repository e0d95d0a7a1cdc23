#pragma once
// Which vector instruction set the hand-written kernels run on. Each kernel is compiled once per
// instruction set (src/nn/kernels/isa/, each file with its own -march) and picked when it first
// runs, by what the CPU has, capped by the build's SHRINK_ISA: an AVX-512 machine runs the
// AVX-512 kernels of a default build, an AVX2 machine the AVX2 ones, and a build configured
// with -DSHRINK_ISA=avx2 never runs AVX-512 code, even on an AVX-512 machine.
#include <string>
#include <vector>

namespace shrink::kernels {

enum class Isa { Portable, Avx2, Avx512 };

// "portable" (SSE2, any x86-64), "avx2" (AVX2 + FMA), "avx512" (AVX-512 F).
const char* isa_name(Isa isa);

// The widest instruction set this CPU runs and the build allows, or the one the SHRINK_ISA
// environment variable names (portable, avx2, avx512; native or unset: the widest), so one
// build can time the narrower kernels on a wider machine. Read once, on the first call.
Isa best_isa();

// Every instruction set this CPU runs and the build allows, narrowest first (tests run each).
std::vector<Isa> runnable_isas();

// What the build allows at most: "native" builds compile every kernel set.
Isa build_isa_cap();

// An error naming `isa` unless this build has its kernels and this CPU runs them.
void require_runnable(Isa isa);

// A kernel family's table for `isa`, from the tables the build compiled (null when it did not):
//   return kernels_for(isa, kPortableX, SHRINK_AVX2_TABLE(kAvx2X), SHRINK_AVX512_TABLE(kAvx512X));
template <class Table>
const Table& kernels_for(Isa isa, const Table& portable, const Table* avx2, const Table* avx512) {
  require_runnable(isa);
  if (isa == Isa::Avx512 && avx512 != nullptr) return *avx512;
  if (isa == Isa::Avx2 && avx2 != nullptr) return *avx2;
  return portable;
}

#ifdef SHRINK_KERNELS_AVX2
#define SHRINK_AVX2_TABLE(table) (&(table))
#else
#define SHRINK_AVX2_TABLE(table) nullptr
#endif
#ifdef SHRINK_KERNELS_AVX512
#define SHRINK_AVX512_TABLE(table) (&(table))
#else
#define SHRINK_AVX512_TABLE(table) nullptr
#endif

}  // namespace shrink::kernels
