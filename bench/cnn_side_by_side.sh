#!/usr/bin/env bash
# shrink vs ONNX Runtime on the same ONNX files at batch 256 over the Fashion-MNIST test set,
# with shrink's convolution kernels on each instruction set this machine runs: for every file
# and every set, `SHRINK_ISA=SET shrink eval` and ONNX Runtime alternate REPEATS times, same
# thread count; medians and ratios. On the avx2 rows OpenBLAS (Linear, large convolutions) is
# held to its AVX2 kernel too (OPENBLAS_CORETYPE=Haswell), so shrink runs no AVX-512 code there
# except what the compiler vectorized elsewhere; ONNX Runtime picks its kernels by the CPU and
# cannot be capped, so on an AVX-512 machine it keeps AVX-512 on every row.
# Each side reports samples per second of wall time and per CPU-second (every thread of the
# process, user and system): on a machine other jobs load, the CPU rate is the one to compare,
# best at 1 thread, where neither side has idle threads waiting.
#   bash bench/cnn_side_by_side.sh REPEATS THREADS FILE.onnx...
#   ISAS="avx512 avx2" (the default) chooses the sets.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if (($# < 3)); then
  echo "error: usage: bash bench/cnn_side_by_side.sh REPEATS THREADS FILE.onnx..." >&2
  exit 2
fi
repeats="$1"
threads="$2"
shift 2
bash "$here/scripts/install-deps.sh" --peers
bash "$here/scripts/build.sh" shrink_cli >/dev/null
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
shrink="$here/build/shrink"
# shellcheck source=bench/common.sh
source "$here/bench/common.sh"

flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
have=""
for f in avx512f avx2 fma; do [[ $flags == *" $f "* ]] && have+=" $f"; done
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs);$have; $threads threads, $repeats repeats; load average $(cut -d' ' -f1-3 /proc/loadavg); shrink $(git -C "$here" rev-parse --short HEAD)"
printf "%-28s %-7s %10s %10s %7s %12s %12s %7s %10s %10s\n" file kernels shrink/s ort/s ratio \
  "shrink/cpu-s" "ort/cpu-s" "ratio" "shrink acc" "ort acc"
for file in "$@"; do
  model="$(realpath "$file")"
  for isa in ${ISAS:-avx512 avx2}; do
    blas=(); [[ $isa == avx2 ]] && blas=(OPENBLAS_CORETYPE=Haswell)
    s=(); o=(); sc=(); oc=()
    for ((r = 0; r < repeats; r++)); do
      env SHRINK_ISA="$isa" "${blas[@]}" "$shrink" eval "$model" --batch 256 --threads "$threads" -q \
        --report "$work/e.json" >/dev/null
      s+=("$(get samples_per_s < "$work/e.json")")
      sc+=("$(get samples_per_cpu_s < "$work/e.json")")
      s_acc="$(get accuracy < "$work/e.json")"
      out="$(cd "$here/bench" && node ort_eval.mjs "$model" --batch 256 --threads "$threads")"
      o+=("$(get samples_per_s <<< "$out")")
      oc+=("$(get samples_per_cpu_s <<< "$out")")
      o_acc="$(get accuracy <<< "$out")"
    done
    ms=$(median "${s[@]}"); mo=$(median "${o[@]}"); msc=$(median "${sc[@]}"); moc=$(median "${oc[@]}")
    printf "%-28s %-7s %10.0f %10.0f %6.2fx %12.0f %12.0f %6.2fx %10s %10s\n" \
      "$(basename "$(dirname "$model")")/$(basename "$model")" "$isa" "$ms" "$mo" \
      "$(python3 -c "print($ms/$mo)")" "$msc" "$moc" "$(python3 -c "print($msc/$moc)")" "$s_acc" "$o_acc"
  done
done
