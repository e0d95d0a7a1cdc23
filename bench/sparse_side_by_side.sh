#!/usr/bin/env bash
# A 90%-sparse LeNet-300-100 in `shrink eval` three ways, in one run over the Fashion-MNIST test
# set: shrink with its sparse kernels (the default), the same model with SHRINK_SPARSE=off (the
# dense GEMM), and ONNX Runtime on the model's ONNX export (dense: ONNX has no sparse Gemm).
# Batch 256 and batch 1, alternating the three REPEATS times; medians and ratios. The sparse
# kernels run on the widest instruction set this CPU has, and again with SHRINK_ISA=avx2.
#   bash bench/sparse_side_by_side.sh [SPARSE.shrk] [REPEATS=5] [THREADS=2]
# Without a model it makes one as docs/benchmarks.md says: 15 epochs of training, magnitude
# pruning to 90% (global) and one epoch of fine-tuning.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
model="${1:-}"
repeats="${2:-5}"
threads="${3:-2}"
bash "$here/scripts/install-deps.sh" --onnxruntime
bash "$here/scripts/build.sh" shrink_cli >/dev/null
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE SHRINK_SPARSE SHRINK_ISA
shrink="$here/build/shrink"
# shellcheck source=bench/common.sh
source "$here/bench/common.sh"

if [[ -z "$model" ]]; then
  "$shrink" train --arch lenet-300-100 --data fashion-mnist --epochs 15 --lr 0.01 --momentum 0.9 \
    --seed 0 --threads 1 -q -o "$work/dense.shrk"
  "$shrink" compress "$work/dense.shrk" --prune magnitude:0.9 --finetune-epochs 1 \
    --data fashion-mnist --seed 0 -q -o "$work/sparse.shrk"
  model="$work/sparse.shrk"
fi
model="$(realpath "$model")"
"$shrink" convert "$model" "$work/sparse.onnx" -q
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; vector extensions:" \
  "$(grep -o -w -E 'avx512f|avx512vl|avx2|fma' /proc/cpuinfo | sort -u | tr '\n' ' ')"
"$shrink" inspect "$model" | sed -n '/^inference kernels/,$p'

# samples/s and samples per CPU-second of `shrink eval` with the given environment.
shrink_eval() {
  env "$@" "$shrink" eval "$model" --batch "$batch" --threads "$threads" -q --report "$work/e.json" >/dev/null
  echo "$(get samples_per_s < "$work/e.json") $(get samples_per_cpu_s < "$work/e.json")"
}
ratio() { python3 -c "print(f'{$1 / $2:.2f}x')"; }

# Wall-clock rates first, then per CPU-second (the work done, steadier on a loaded machine: with
# one thread it is the time the evaluation kept a core busy).
printf "\n%-6s %-8s %14s %14s %14s %12s %10s %10s %10s\n" batch rate "sparse" "sparse avx2" "dense" "ort" \
  "vs dense" "avx2 vs" "vs ort"
for batch in 1 256; do
  limit=10000; [[ $batch == 1 ]] && limit=2000
  s=(); a=(); d=(); o=(); sc=(); ac=(); dc=(); oc=()
  for ((r = 0; r < repeats; r++)); do
    read -r v c <<< "$(shrink_eval SHRINK_SPARSE=auto)"; s+=("$v"); sc+=("$c")
    read -r v c <<< "$(shrink_eval SHRINK_ISA=avx2)"; a+=("$v"); ac+=("$c")
    read -r v c <<< "$(shrink_eval SHRINK_SPARSE=off)"; d+=("$v"); dc+=("$c")
    out="$(cd "$here/bench" && node ort_eval.mjs "$work/sparse.onnx" --batch "$batch" --threads "$threads" --limit "$limit")"
    o+=("$(get samples_per_s <<< "$out")"); oc+=("$(get samples_per_cpu_s <<< "$out")")
  done
  for rate in wall cpu; do
    if [[ $rate == wall ]]; then
      ms=$(median "${s[@]}"); ma=$(median "${a[@]}"); md=$(median "${d[@]}"); mo=$(median "${o[@]}")
    else
      ms=$(median "${sc[@]}"); ma=$(median "${ac[@]}"); md=$(median "${dc[@]}"); mo=$(median "${oc[@]}")
    fi
    # The AVX2 sparse run against the dense one: the dense GEMM (OpenBLAS) keeps AVX-512 there.
    printf "%-6s %-8s %14.0f %14.0f %14.0f %12.0f %10s %10s %10s\n" "$batch" "$rate" "$ms" "$ma" "$md" "$mo" \
      "$(ratio "$ms" "$md")" "$(ratio "$ma" "$md")" "$(ratio "$ms" "$mo")"
  done
done
echo "(samples per second and per CPU-second, medians of $repeats; load average $(cut -d' ' -f1-3 /proc/loadavg);"
echo " batch 1: ONNX Runtime over the first 2000 test images, shrink over all 10000)"
