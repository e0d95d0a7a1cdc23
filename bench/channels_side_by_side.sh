#!/usr/bin/env bash
# A model and its channel-pruned version, side by side in shrink and in ONNX Runtime: the same
# two ONNX files, the same thread count, the Fashion-MNIST test set at each batch of BATCHES
# (default 256; BATCHES="256 1" adds batch 1, which takes minutes).
# Each repeat runs the four (runtime, model) pairs one after another, so a machine that slows
# down affects all alike; the table gives medians of REPEATS, the speedup of the pruned model
# in each runtime, and the accuracies (which must agree between runtimes).
#   bash bench/channels_side_by_side.sh ORIGINAL.onnx PRUNED.onnx [REPEATS=5] [THREADS=2]
# Make PRUNED.onnx with `shrink compress ORIGINAL.onnx --prune channels:0.5 -o PRUNED.onnx`.
# Needs build/shrink and ONNX Runtime for Node in bench/node_modules (install-deps.sh --peers).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
original="$(realpath "$1")"
pruned="$(realpath "$2")"
repeats="${3:-5}"
threads="${4:-2}"
shrink="$here/build/shrink"
[[ -x "$shrink" ]] || { echo "error: $shrink is missing: build it (bash scripts/build.sh)" >&2; exit 2; }
[[ -d "$here/bench/node_modules/onnxruntime-node" ]] ||
  { echo "error: ONNX Runtime is missing: bash scripts/install-deps.sh --peers" >&2; exit 2; }
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE  # OpenBLAS picks its kernel for this CPU
# shellcheck source=bench/common.sh
source "$here/bench/common.sh"

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); threads $threads;" \
     "AVX-512F: $(grep -q -m1 avx512f /proc/cpuinfo && echo yes || echo no)"
printf "%-12s %-6s %14s %14s %8s %10s %10s\n" runtime batch original/s pruned/s speedup \
       "orig acc" "pruned acc"
for batch in ${BATCHES:-256}; do
  limit=10000; [[ $batch == 1 ]] && limit=2000
  declare -A rate=() acc=()
  for ((r = 0; r < repeats; r++)); do
    for which in original pruned; do
      model="$original"; [[ $which == pruned ]] && model="$pruned"
      "$shrink" eval "$model" --batch "$batch" --threads "$threads" -q --report "$work/e.json" >/dev/null
      rate[shrink,$which]+=" $(get samples_per_s < "$work/e.json")"
      acc[shrink,$which]="$(get accuracy < "$work/e.json")"
      out="$(cd "$here/bench" && node ort_eval.mjs "$model" --batch "$batch" --threads "$threads" --limit "$limit")"
      rate[ort,$which]+=" $(get samples_per_s <<< "$out")"
      acc[ort,$which]="$(get accuracy <<< "$out")"
    done
  done
  for runtime in shrink ort; do
    # shellcheck disable=SC2086  # the rates are a space-separated list
    mo=$(median ${rate[$runtime,original]}); mp=$(median ${rate[$runtime,pruned]})
    name=$runtime; [[ $runtime == ort ]] && name=onnxruntime
    printf "%-12s %-6s %14.0f %14.0f %7.2fx %10s %10s\n" "$name" "$batch" "$mo" "$mp" \
           "$(python3 -c "print($mp/$mo)")" "${acc[$runtime,original]}" "${acc[$runtime,pruned]}"
  done
  unset rate acc
done
echo "(samples/s, medians of $repeats; at batch 1 ONNX Runtime runs the first 2000 test images, shrink all 10000)"
