#!/usr/bin/env bash
# Int8 execution speed, side by side in one run (docs/benchmarks.md, issue #10's speed bars):
# `shrink eval` of the fp32 model and of its int8 model (`--quantize int8`, minmax) on the
# 10,000 Fashion-MNIST test images at batch 256 and batch 1, for LeNet-300-100 and LeNet-5:
#   fp32                shrink, every kernel the CPU has
#   fp32 (AVX2)         SHRINK_ISA=avx2 OPENBLAS_CORETYPE=Haswell: the fp32 baseline of an AVX2 CPU
#   int8 QDQ in fp32    SHRINK_INT8=off: the fake-quantized graph (the accuracy int8 must keep)
#   int8 native         oneDNN with everything the CPU has (AMX tiles on a Sapphire Rapids)
#   int8 avx512         SHRINK_ISA=avx512: AVX-512 VNNI, no AMX
#   int8 avx2, 8-bit    SHRINK_ISA=avx2: AVX2 without VNNI (vpmaddubsw; weights split in two)
#   int8 avx2, 7-bit    the same cap on the reduce_range model (`--quantize int8:reduce_range=on`,
#                       7-bit weights that vpmaddubsw multiplies in one pass)
#   int8 portable       SHRINK_ISA=portable: SSE4.1
# beside ONNX Runtime evaluating the exported QDQ file the same way (bench/ort_eval.mjs: the test
# set in batches, pixels converted on the way, REPEATS runs) and PyTorch's own eager int8
# (onednn engine, bench/pytorch_int8_ptq.py, its evaluation loop over the test set). The shrink
# rows alternate, REPEATS times; each figure is the median samples/s of wall time and of CPU time
# (eval's samples_per_cpu_s: on a shared, loaded machine the steadier one), each ratio against
# shrink fp32 at the same batch (the AVX2 int8 rows against fp32 (AVX2)). Accuracy: shrink
# eval's, and ORT's on the QDQ files.
# Then the forward passes alone: shrink compress's latency of the fp32 model and the int8 model
# (alternating, medians of 100 on a random batch) under each oneDNN cap (8-bit weights, and under
# the AVX2 cap the 7-bit reduce_range weights too), beside ONNX Runtime's
# session.run on the QDQ file (bench/ort_time.mjs), with the int8 GMAC/s; and the int8 peak of
# one core (build/bench/int8_peak_bench).
#
#   bash bench/int8_speed.sh [OUT=bench-out/int8] [THREADS=1] [REPEATS=5]
#
# The fp32 models are OUT/lenet-300-100.shrk and OUT/lenet5.shrk (trained as int8_bars.sh
# trains them when missing). Needs build/shrink, node with bench/node_modules
# (onnxruntime-node) and /usr/bin/python3 with torch. ARCHS="lenet5" runs one model.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
out=${1:-bench-out/int8}
threads=${2:-1}
repeats=${3:-5}
shrink=${SHRINK:-build/shrink}
mkdir -p "$out"

flags=$(grep -m1 '^flags' /proc/cpuinfo)
features=""
for f in avx2 avx512f avx512_vnni avx_vnni amx_int8; do
  [[ " $flags " == *" $f "* ]] && features+="$f "
done
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; features: $features"
echo "threads $threads, $repeats alternating repeats, load average $(cut -d' ' -f1-3 /proc/loadavg)"

field() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
ratio() { python3 -c 'import sys; print("%.2fx" % (float(sys.argv[1]) / float(sys.argv[2])))' "$1" "$2"; }

# name | environment | model suffix
configs=("fp32||fp32"
         "fp32 (AVX2)|SHRINK_ISA=avx2 OPENBLAS_CORETYPE=Haswell|fp32"
         "int8 QDQ in fp32|SHRINK_INT8=off|int8"
         "int8 native|SHRINK_ISA=native|int8"
         "int8 avx512 (VNNI)|SHRINK_ISA=avx512|int8"
         "int8 avx2, 8-bit split|SHRINK_ISA=avx2|int8"
         "int8 avx2, 7-bit weights|SHRINK_ISA=avx2|int8r"
         "int8 portable (SSE4.1)|SHRINK_ISA=portable|int8")

for arch in ${ARCHS:-lenet-300-100 lenet5}; do  # ARCHS="lenet5" runs one
  epochs=12
  [ "$arch" = lenet-300-100 ] && epochs=15
  [ -f "$out/$arch.shrk" ] || "$shrink" train --arch "$arch" --data fashion-mnist --epochs "$epochs" --lr 0.01 \
    --momentum 0.9 --seed 0 --threads "$threads" -q -o "$out/$arch.shrk"
  cp "$out/$arch.shrk" "$work/$arch-fp32.shrk"
  # int8: 8-bit weights (reduce_range off, whatever this CPU has); int8r: 7-bit weights.
  for suffix in int8 int8r; do
    reduce=off
    [ "$suffix" = int8r ] && reduce=on
    "$shrink" compress "$out/$arch.shrk" --quantize "int8:reduce_range=$reduce" --threads "$threads" \
      --no-latency -q -o "$work/$arch-$suffix.shrk" > /dev/null
    "$shrink" convert "$work/$arch-$suffix.shrk" "$work/$arch-$suffix.onnx" -q > /dev/null
  done
  ort_accuracy=$(node bench/ort_eval.mjs "$work/$arch-int8.onnx" --threads "$threads" | get accuracy)
  ort_accuracy_7bit=$(node bench/ort_eval.mjs "$work/$arch-int8r.onnx" --threads "$threads" | get accuracy)
  echo
  echo "== $arch: $("$shrink" inspect "$work/$arch-int8.shrk" --json | python3 -c '
import json, sys
r = json.load(sys.stdin)["int8"]
print("%d int8 layers, oneDNN %s" % (len(r["layers"]), r["kernels"]))')"
  for batch in 256 1; do
    declare -A speeds=() cpu_speeds=() accuracy=()
    for ((r = 0; r < repeats; r++)); do
      for c in "${configs[@]}"; do
        IFS='|' read -r name environment suffix <<< "$c"
        env $environment "$shrink" eval "$work/$arch-$suffix.shrk" --data fashion-mnist --batch "$batch" \
          --threads "$threads" -q --report "$work/e.json" > /dev/null
        speeds[$name]+="$(field "$work/e.json" samples_per_s) "
        cpu_speeds[$name]+="$(field "$work/e.json" samples_per_cpu_s) "
        accuracy[$name]=$(field "$work/e.json" accuracy)
      done
    done
    ort_eval=()
    for ((r = 0; r < repeats; r++)); do
      ort_eval+=("$(node bench/ort_eval.mjs "$work/$arch-int8.onnx" --batch "$batch" --threads "$threads" | get samples_per_s)")
    done
    torch=$(/usr/bin/python3 bench/pytorch_int8_ptq.py "$out/$arch.shrk" "$arch" --threads "$threads" \
      --eval-batch "$batch")
    echo "-- batch $batch"
    printf '%-32s %14s %10s %14s %10s %10s\n' "" "samples/s" "vs fp32" "per CPU-s" "vs fp32" "accuracy"
    fp32=$(median ${speeds[fp32]})
    fp32_avx2=$(median ${speeds["fp32 (AVX2)"]})
    fp32_cpu=$(median ${cpu_speeds[fp32]})
    fp32_avx2_cpu=$(median ${cpu_speeds["fp32 (AVX2)"]})
    for c in "${configs[@]}"; do
      IFS='|' read -r name environment suffix <<< "$c"
      s=$(median ${speeds[$name]})
      cpu=$(median ${cpu_speeds[$name]})
      base=$fp32 cpu_base=$fp32_cpu
      [[ "$name" == *"avx2"* ]] && base=$fp32_avx2 cpu_base=$fp32_avx2_cpu
      printf '%-32s %14.0f %10s %14.0f %10s %9.2f%%\n' "shrink $name" "$s" "$(ratio "$s" "$base")" \
        "$cpu" "$(ratio "$cpu" "$cpu_base")" "$(python3 -c "print(100 * ${accuracy[$name]})")"
    done
    ort=$(median "${ort_eval[@]}")
    printf '%-32s %14.0f %10s %14s %10s %9.2f%%\n' "ORT QDQ file" "$ort" "$(ratio "$ort" "$fp32")" "" "" \
      "$(python3 -c "print(100 * $ort_accuracy)")"
    printf '%-32s %14s %10s %14s %10s %9.2f%%\n' "ORT QDQ file, 7-bit weights" "" "" "" "" \
      "$(python3 -c "print(100 * $ort_accuracy_7bit)")"
    for kind in fp32 int8; do
      s=$(echo "$torch" | get ${kind}_samples_per_s)
      printf '%-32s %14.0f %10s %14s %10s %9.2f%%\n' "PyTorch $kind (onednn)" "$s" "$(ratio "$s" "$fp32")" "" "" \
        "$(python3 -c "print(100 * $(echo "$torch" | get ${kind}_accuracy))")"
    done
    int8=$(median ${speeds["int8 native"]})
    echo "shrink int8 native / ORT QDQ: $(ratio "$int8" "$ort"); int8 avx512 / ORT: $(ratio "$(median ${speeds["int8 avx512 (VNNI)"]})" "$ort")"
    unset speeds accuracy
  done

  # Forward passes alone: shrink compress times the fp32 model and its int8 model in
  # alternation (medians of 100 passes on a random batch), under each oneDNN cap; ONNX
  # Runtime's session.run on the QDQ file beside it.
  macs=$("$shrink" inspect "$work/$arch-fp32.shrk" --json | get macs)
  echo "-- forward passes alone (ms per batch; $macs MACs a sample)"
  printf '%-32s %8s %10s %10s %8s %10s %8s\n' "" "batch" "fp32 ms" "int8 ms" "speedup" "int8 GMAC/s" "vs ORT"
  for batch in 256 1; do
    ort_ms=$(node bench/ort_time.mjs --batch "$batch" --threads "$threads" --repeats 100 "$work/$arch-int8.onnx" | get median_ms)
    for c in "native|SHRINK_ISA=native|off" "avx512 (VNNI)|SHRINK_ISA=avx512|off" \
             "avx2, 8-bit split|SHRINK_ISA=avx2 OPENBLAS_CORETYPE=Haswell|off" \
             "avx2, 7-bit weights|SHRINK_ISA=avx2 OPENBLAS_CORETYPE=Haswell|on" \
             "portable (SSE4.1)|SHRINK_ISA=portable|off"; do
      IFS='|' read -r name environment reduce <<< "$c"
      env $environment "$shrink" compress "$out/$arch.shrk" --quantize "int8:reduce_range=$reduce" --latency-batches "$batch" \
        --threads "$threads" -q -o "$work/l.shrk" --report "$work/l.json" > /dev/null
      python3 - "$work/l.json" "$name" "$batch" "$macs" "$ort_ms" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["latency"][0]
name, batch, macs, ort = sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
b, a = r["before"]["median_ms"], r["after"]["median_ms"]
print("%-32s %8d %10.3f %10.3f %7.2fx %10.1f %7.2fx" % ("shrink " + name, batch, b, a, b / a,
      macs * batch / (a * 1e-3) * 1e-9, ort / a))
PY
    done
    printf '%-32s %8d %10s %10.3f\n' "ORT QDQ file" "$batch" "" "$ort_ms"
  done
done
if [ -x build/bench/int8_peak_bench ]; then
  echo
  echo "int8 multiply-add peak of one core (build/bench/int8_peak_bench, CPU time):"
  SHRINK_THREADS=1 build/bench/int8_peak_bench 2>/dev/null | grep -E "^peak" | awk '{print "  " $1 ": " $NF}'
fi
