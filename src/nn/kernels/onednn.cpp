#include "nn/kernels/onednn.hpp"

#include "nn/kernels/isa.hpp"
#include "shrink/core/error.hpp"

#include <cstdlib>

namespace shrink::kernels {
namespace {

// oneDNN takes the cap once, before its first primitive; later calls fail.
void cap_onednn_isa() {
  const char* wanted = std::getenv("SHRINK_ISA");
  if (wanted == nullptr || *wanted == '\0') return;
  const Isa isa = best_isa();  // validates SHRINK_ISA
  const dnnl::cpu_isa cap = isa == Isa::Avx512 ? dnnl::cpu_isa::all
                            : isa == Isa::Avx2 ? dnnl::cpu_isa::avx2
                                               : dnnl::cpu_isa::sse41;
  if (dnnl::set_max_cpu_isa(cap) != dnnl::status::success)
    throw Error::internal("oneDNN refused SHRINK_ISA=" + std::string(wanted) +
                          " as its instruction-set cap");
}

struct OneDnn {
  OneDnn() : engine((cap_onednn_isa(), dnnl::engine::kind::cpu), 0), stream(engine) {}
  dnnl::engine engine;
  dnnl::stream stream;
};

OneDnn& onednn() {
  static OneDnn instance;
  return instance;
}

}  // namespace

dnnl::engine& onednn_engine() { return onednn().engine; }
dnnl::stream& onednn_stream() { return onednn().stream; }

std::string onednn_isa() {
  onednn();
  // get_effective_cpu_isa() is the cap, not what the CPU has: the widest path under both.
  const auto cap = static_cast<int>(dnnl::get_effective_cpu_isa());
  const auto allows = [&](dnnl::cpu_isa isa) {
    const int bits = static_cast<int>(isa);
    return cap == static_cast<int>(dnnl::cpu_isa::all) || (cap & bits) == bits;
  };
#if defined(__x86_64__) || defined(__i386__)
  if (allows(dnnl::cpu_isa::avx512_core_vnni) && __builtin_cpu_supports("avx512vnni"))
    return "avx512_core_vnni";
  if (allows(dnnl::cpu_isa::avx512_core) && __builtin_cpu_supports("avx512bw")) return "avx512_core";
  if (allows(dnnl::cpu_isa::avx2) && __builtin_cpu_supports("avx2")) return "avx2";
  if (allows(dnnl::cpu_isa::sse41) && __builtin_cpu_supports("sse4.1")) return "sse41";
#endif
  return "reference";
}

bool onednn_has_vnni() {
  static const bool vnni = onednn_isa().find("vnni") != std::string::npos;
  return vnni;
}

}  // namespace shrink::kernels
