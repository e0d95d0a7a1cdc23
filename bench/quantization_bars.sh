#!/usr/bin/env bash
# The quantization bars of docs/benchmarks.md, end to end on Fashion-MNIST: trains the two
# baselines as docs/benchmarks.md does (LeNet-5 15 epochs, LeNet-300-100 20 epochs; skipped when
# OUT already holds them), compresses each way, prints accuracy before/after and the file ratio
# against each bar, then times the XNOR-popcount kernel beside the fp32 GEMM (on an AVX-512
# machine twice: as built, and with both sides held to AVX2 as on a CPU without AVX-512).
#
#   bash bench/quantization_bars.sh [OUT=bench-out/quant] [THREADS=2] [REPEATS=5]
#
# Needs build/shrink and build/bench/kernels_bench (cmake --build build --target shrink_cli
# kernels_bench). Every run is seeded, so the accuracies repeat exactly for a thread count.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench-out/quant}
threads=${2:-2}
repeats=${3:-5}
shrink=build/shrink
mkdir -p "$out"

train() {  # name arch epochs
  [ -f "$out/$1.shrk" ] && return
  "$shrink" train --arch "$2" --epochs "$3" --batch 64 --lr 0.01 --momentum 0.9 --seed 0 \
    --threads "$threads" -q -o "$out/$1.shrk" --report "$out/$1.json"
}
compress() {  # name model flags...
  local name=$1 model=$2
  shift 2
  echo "shrink compress $model.shrk $* -> $name.shrk" >&2
  "$shrink" compress "$out/$model.shrk" "$@" --threads "$threads" --seed 0 -q \
    -o "$out/$name.shrk" --report "$out/$name.json"
}

train lenet5 lenet5 15
train lenet-300-100 lenet-300-100 20

compress lenet5-int8 lenet5 --quantize affine:8 --per-channel --symmetric
compress lenet5-int4 lenet5 --quantize affine:4 --per-channel --symmetric --finetune-epochs 2
compress lenet5-inq5 lenet5 --quantize pow2:5 --finetune-epochs 2
compress lenet-300-100-inq5 lenet-300-100 --quantize pow2:5 --finetune-epochs 2
compress lenet5-ternary lenet5 --quantize ternary --finetune-epochs 2
compress lenet5-binary lenet5 --quantize binary --finetune-epochs 2

python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
# name, max accuracy loss (points), file bound: ("at most", fraction of fp32) or ("smaller by", x)
bars = [
    ("lenet5-int8", 0.1, ("at most", 0.26)),
    ("lenet5-int4", 0.5, ("at most", 0.14)),
    ("lenet5-inq5", 0.3, None),
    ("lenet-300-100-inq5", 0.3, None),
    ("lenet5-ternary", 1.0, ("smaller by", 12)),
    ("lenet5-binary", 2.0, ("smaller by", 18)),
]
print(f"{'run':22} {'before':>8} {'after':>8} {'loss':>7} {'bar':>5}  {'file':>10} {'of fp32':>8} {'x':>6}  bar")
for name, max_loss, size_bar in bars:
    r = json.load(open(f"{out}/{name}.json"))
    before, after = 100 * r["accuracy_before"], 100 * r["accuracy_after"]
    loss = before - after
    ratio = r["file_bytes_after"] / r["file_bytes_before"]
    ok = loss <= max_loss
    size = ""
    if size_bar:
        kind, bound = size_bar
        size_ok = ratio <= bound if kind == "at most" else 1 / ratio >= bound
        ok = ok and size_ok
        size = f"{kind} {bound:g}{'' if kind == 'smaller by' else ' of fp32'}"
    print(f"{name:22} {before:8.2f} {after:8.2f} {loss:+7.2f} {max_loss:5.1f}  {r['file_bytes_after']:10d} "
          f"{100 * ratio:7.2f}% {1 / ratio:6.2f}  {'met' if ok else 'NOT MET'} {size}")
PY

# Every weight of the INQ models is 0 or +-2^n: inspect reads the file back.
for m in lenet5-inq5 lenet-300-100-inq5; do
  "$shrink" inspect "$out/$m.shrk" --json | python3 -c '
import json, sys
r = json.load(sys.stdin)
formats = {f for layer in r["layers"] for f in layer["formats"] if f != "fp32"}
print(sys.argv[1], "weight formats:", sorted(formats))' "$m"
done

echo "XNOR-popcount kernel beside the fp32 GEMM, 1024x1024 Linear at batch 64, $threads threads," \
  "median of $repeats (CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs);" \
  "$(grep -o -w -E 'avx2|avx512f|avx512_vpopcntdq' /proc/cpuinfo | sort -u | xargs))"
xnor_bench() {  # name [VAR=value...]: one kernels_bench run, both layers side by side
  local name=$1
  shift
  # Idle threads sleep, as in the shrink CLI (docs/benchmarks.md), unless the environment says.
  env OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}" SHRINK_THREADS="$threads" "$@" \
    build/bench/kernels_bench --benchmark_filter='linear_1024_binary|xnor_gemm_1024' \
    --benchmark_repetitions="$repeats" --benchmark_report_aggregates_only=true \
    --benchmark_format=json > "$out/xnor_bench_$name.json"
  python3 - "$out/xnor_bench_$name.json" "$name" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))["benchmarks"]
median = {b["run_name"]: b for b in runs if b.get("aggregate_name") == "median"}
print(sys.argv[2] + ":")
for name, b in median.items():
    print(f"{name:45} {b['real_time']:10.1f} {b['time_unit']} real {b['cpu_time']:10.1f} CPU"
          f"  {b.get('label', '')}")
fp32 = median["linear_1024_binary_fp32_forward/real_time"]
xnor = median["linear_1024_binary_xnor_forward/real_time"]
# On a shared machine the wall time is noisy; the calling thread's CPU time much less so.
print(f"XNOR Linear is {fp32['real_time'] / xnor['real_time']:.1f}x faster than the fp32 GEMM in"
      f" real time, {fp32['cpu_time'] / xnor['cpu_time']:.1f}x in CPU time (bar: 8x)")
PY
}
xnor_bench native
# On an AVX-512 machine, both sides held to AVX2 as well, as on a CPU without AVX-512: the XNOR
# kernel's AVX2 path and OpenBLAS's Haswell sgemm.
if grep -q -w avx512f /proc/cpuinfo; then
  xnor_bench avx2 SHRINK_ISA=avx2 OPENBLAS_CORETYPE=Haswell
fi
