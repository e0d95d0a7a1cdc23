#include "nn/kernels/isa.hpp"

#include "shrink/core/error.hpp"

#include <algorithm>
#include <cstdlib>

namespace shrink::kernels {
namespace {

// Which kernel sets the build compiled (CMakeLists.txt, from SHRINK_ISA).
constexpr bool kBuiltAvx512 =
#ifdef SHRINK_KERNELS_AVX512
    true;
#else
    false;
#endif
constexpr bool kBuiltAvx2 =
#ifdef SHRINK_KERNELS_AVX2
    true;
#else
    false;
#endif

// libgcc's CPU model also checks that the operating system saves the wide registers.
bool cpu_runs(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  switch (isa) {
    case Isa::Avx512: return __builtin_cpu_supports("avx512f");
    case Isa::Avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::Portable: return true;
  }
  return false;
#else
  return isa == Isa::Portable;
#endif
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    case Isa::Portable: return "portable";
  }
  return "unknown";
}

Isa build_isa_cap() {
  return kBuiltAvx512 ? Isa::Avx512 : kBuiltAvx2 ? Isa::Avx2 : Isa::Portable;
}

std::vector<Isa> runnable_isas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::Portable, Isa::Avx2, Isa::Avx512})
    if (isa <= build_isa_cap() && cpu_runs(isa)) isas.push_back(isa);
  return isas;
}

void require_runnable(Isa isa) {
  const std::vector<Isa> isas = runnable_isas();
  require(std::find(isas.begin(), isas.end(), isa) != isas.end(),
          std::string("the ") + isa_name(isa) + " kernels were not built or this CPU cannot run them");
}

Isa best_isa() {
  static const Isa best = [] {
    const std::vector<Isa> isas = runnable_isas();
    const char* wanted = std::getenv("SHRINK_ISA");
    if (wanted == nullptr || *wanted == '\0' || std::string(wanted) == "native") return isas.back();
    std::string known;
    for (Isa isa : isas) {
      if (wanted == std::string(isa_name(isa))) return isa;
      known += std::string(known.empty() ? "" : ", ") + isa_name(isa);
    }
    throw Error::bad_input("SHRINK_ISA=" + std::string(wanted) +
                           " is not an instruction set this build runs on this CPU: " + known +
                           " or native");
  }();
  return best;
}

}  // namespace shrink::kernels
