#include "nn/kernels/onednn.hpp"

#include "nn/kernels/isa.hpp"
#include "shrink/core/error.hpp"

#include <cstdlib>

namespace shrink::kernels {
namespace {

// oneDNN takes the cap once, before its first primitive; later calls fail. AMX is not AVX-512,
// so "avx512" stops below it.
void cap_onednn_isa() {
  const char* wanted = std::getenv("SHRINK_ISA");
  if (wanted == nullptr || *wanted == '\0' || std::string(wanted) == "native") return;
  const Isa isa = best_isa();  // validates SHRINK_ISA
  const dnnl::cpu_isa cap = isa == Isa::Avx512 ? dnnl::cpu_isa::avx512_core_bf16
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
  // The widest set oneDNN dispatches to on this CPU under the cap.
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return "reference";
  }
}

bool onednn_has_vnni() {
  static const bool vnni = [] {
    const std::string isa = onednn_isa();
    return isa == "avx2_vnni" || isa == "avx512_core_vnni" || isa == "avx512_core_bf16" ||
           isa == "avx512_core_amx";
  }();
  return vnni;
}

}  // namespace shrink::kernels
