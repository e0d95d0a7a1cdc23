#!/usr/bin/env bash
# How OpenMP's waiting affects shrink's speed: a model and its channel-pruned version evaluated
# side by side under libgomp's default spinning (GOMP_SPINCOUNT=300000, what an unset
# OMP_WAIT_POLICY gives), a short spin (GOMP_SPINCOUNT=10000), passive waiting
# (OMP_WAIT_POLICY=passive, the shrink CLI's default) and one thread. Each repeat runs every
# (setting, model) pair one after another, so a machine that slows down affects all alike; the
# table gives median samples/s of REPEATS and each setting's speed relative to the first.
# Prints the CPU, its AVX-512 support and the load average, which decides what wins: spinning
# costs nothing on idle cores and steals them from the sibling thread on busy ones.
#   bash bench/omp_wait_policy.sh ORIGINAL PRUNED [REPEATS=3] [DATA=fashion-mnist] [BATCHES="256 1"]
# Needs build/shrink; DATA's test split is what is timed (a 2,000-image subset keeps batch 1 short).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
original="$(realpath "$1")"
pruned="$(realpath "$2")"
repeats="${3:-3}"
data="${4:-fashion-mnist}"
shrink="$here/build/shrink"
[[ -x "$shrink" ]] || { echo "error: $shrink is missing: build it (bash scripts/build.sh)" >&2; exit 2; }
# shellcheck source=bench/common.sh
source "$here/bench/common.sh"  # work (scratch dir), median, get

settings=("spin-300k:2:GOMP_SPINCOUNT=300000" "spin-10k:2:GOMP_SPINCOUNT=10000"
          "passive:2:OMP_WAIT_POLICY=passive" "1-thread:1:OMP_WAIT_POLICY=passive")
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores;" \
     "AVX-512F: $(grep -q -m1 avx512f /proc/cpuinfo && echo yes || echo no);" \
     "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-6s %-10s %12s %12s %9s %20s\n" batch setting original/s pruned/s speedup "pruned vs spin-300k"
for batch in ${BATCHES:-256 1}; do
  declare -A got=()
  for ((r = 0; r < repeats; r++)); do
    for setting in "${settings[@]}"; do
      IFS=: read -r name threads variable <<< "$setting"
      for which in original pruned; do
        model="$original"; [[ $which == pruned ]] && model="$pruned"
        env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "$variable" "$shrink" eval "$model" --data "$data" \
          --batch "$batch" --threads "$threads" -q --report "$work/e.json" >/dev/null
        got[$name,$which]+=" $(get samples_per_s < "$work/e.json")"
      done
    done
  done
  first=""
  for setting in "${settings[@]}"; do
    name=${setting%%:*}
    # shellcheck disable=SC2086  # the rates are a space-separated list
    mo=$(median ${got[$name,original]}); mp=$(median ${got[$name,pruned]})
    [[ -z $first ]] && first=$mp
    printf "%-6s %-10s %12.0f %12.0f %8.2fx %19.2fx\n" "$batch" "$name" "$mo" "$mp" \
           "$(python3 -c "print($mp/$mo)")" "$(python3 -c "print($mp/$first)")"
  done
  unset got
done
echo "(samples/s, medians of $repeats; load average at end: $(cut -d' ' -f1-3 /proc/loadavg))"
