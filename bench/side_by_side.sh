#!/usr/bin/env bash
# shrink vs PyTorch on this machine, in one run: training throughput (one epoch of Fashion-MNIST,
# batch 64, SGD lr 0.01 momentum 0.9) and inference throughput (test set, batch 256), same
# thread count, alternating the tools REPEATS times and quoting medians and ratios.
# PyTorch runs twice per repeat: as installed (OpenBLAS's own thread pool beside PyTorch's
# OpenMP threads) and with OPENBLAS_NUM_THREADS=1, its faster setting on two cores; the ratio is
# against the faster of the two. Both tools use the OpenBLAS kernel OpenBLAS picks for this CPU
# (any OPENBLAS_CORETYPE override in the environment is dropped).
# Also the peak memory (max RSS) of `shrink train --arch lenet5`.
#   bash bench/side_by_side.sh [REPEATS=3] [THREADS=2]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repeats="${1:-3}"
threads="${2:-2}"
bash "$here/scripts/install-deps.sh" --peers
bash "$here/scripts/build.sh" shrink_cli >/dev/null
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
shrink="$here/build/shrink"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
peer() { /usr/bin/python3 "$here/bench/peer_pytorch.py" "$@" | python3 -c 'import json,sys; print(json.load(sys.stdin)["samples_per_s"])'; }

median() { python3 -c 'import sys, statistics; print(statistics.median(float(v) for v in sys.argv[1:]))' "$@"; }
field() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

printf "%-15s %-6s %12s %16s %16s %8s\n" model task "shrink/s" "pytorch/s" "pytorch 1-blas/s" ratio
for arch in lenet-300-100 lenet5; do
  "$shrink" train --arch "$arch" --epochs 1 --threads "$threads" -q -o "$work/$arch.shrk" \
    --report "$work/warm.json" >/dev/null
  s_train=(); p_train=(); q_train=(); s_infer=(); p_infer=(); q_infer=()
  for ((r = 0; r < repeats; r++)); do
    "$shrink" train --arch "$arch" --epochs 1 --batch 64 --lr 0.01 --momentum 0.9 --threads "$threads" \
      -q -o "$work/$arch.shrk" --report "$work/t.json" >/dev/null
    s_train+=("$(field "$work/t.json" train_samples_per_s)")
    p_train+=("$(peer "$arch" train --threads "$threads" --batch 64)")
    q_train+=("$(OPENBLAS_NUM_THREADS=1 peer "$arch" train --threads "$threads" --batch 64)")
    "$shrink" eval "$work/$arch.shrk" --batch 256 --threads "$threads" -q --report "$work/e.json" >/dev/null
    s_infer+=("$(field "$work/e.json" samples_per_s)")
    p_infer+=("$(peer "$arch" infer --threads "$threads" --batch 256)")
    q_infer+=("$(OPENBLAS_NUM_THREADS=1 peer "$arch" infer --threads "$threads" --batch 256)")
  done
  for task in train infer; do
    if [[ $task == train ]]; then s=$(median "${s_train[@]}"); p=$(median "${p_train[@]}"); q=$(median "${q_train[@]}");
    else s=$(median "${s_infer[@]}"); p=$(median "${p_infer[@]}"); q=$(median "${q_infer[@]}"); fi
    printf "%-15s %-6s %12.0f %16.0f %16.0f %7.2fx\n" "$arch" "$task" "$s" "$p" "$q" \
      "$(python3 -c "print($s / max($p, $q))")"
  done
done

/usr/bin/time -v "$shrink" train --arch lenet5 --epochs 1 --threads "$threads" -q \
  -o "$work/mem.shrk" 2>"$work/time.txt" >/dev/null
echo "peak memory of shrink train --arch lenet5: $(awk '/Maximum resident/ {printf "%.0f MB", $6/1024}' "$work/time.txt")"
