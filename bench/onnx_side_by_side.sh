#!/usr/bin/env bash
# shrink vs ONNX Runtime on the same ONNX file, same thread count, batch 256 and batch 1, over the
# Fashion-MNIST test set: accuracy (must agree) and throughput, alternating REPEATS times, medians.
#   bash bench/onnx_side_by_side.sh MODEL.onnx [REPEATS=3] [THREADS=2]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
model="$(realpath "$1")"
repeats="${2:-3}"
threads="${3:-2}"
bash "$here/scripts/install-deps.sh" --peers
bash "$here/scripts/build.sh" shrink_cli >/dev/null
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE  # OpenBLAS picks its kernel for this CPU
shrink="$here/build/shrink"
# shellcheck source=bench/common.sh
source "$here/bench/common.sh"

printf "%-6s %12s %12s %10s %10s %8s\n" batch shrink/s ort/s "shrink acc" "ort acc" ratio
for batch in 256 1; do
  limit=10000; [[ $batch == 1 ]] && limit=2000
  s=(); o=()
  for ((r = 0; r < repeats; r++)); do
    "$shrink" eval "$model" --batch "$batch" --threads "$threads" -q --report "$work/e.json" >/dev/null
    s+=("$(get samples_per_s < "$work/e.json")")
    s_acc="$(get accuracy < "$work/e.json")"
    out="$(cd "$here/bench" && node ort_eval.mjs "$model" --batch "$batch" --threads "$threads" --limit "$limit")"
    o+=("$(get samples_per_s <<< "$out")")
    o_acc="$(get accuracy <<< "$out")"
  done
  ms=$(median "${s[@]}"); mo=$(median "${o[@]}")
  printf "%-6s %12.0f %12.0f %10s %10s %7.2fx\n" "$batch" "$ms" "$mo" "$s_acc" "$o_acc" "$(python3 -c "print($ms/$mo)")"
done
echo "(batch 1: ONNX Runtime over the first $limit test images, shrink over all 10000)"
