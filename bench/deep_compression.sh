#!/usr/bin/env bash
# Deep Compression on Fashion-MNIST, end to end (docs/benchmarks.md): trains the dense baselines
# (LeNet-300-100 15 epochs, LeNet-5 12 epochs; skipped when OUT already holds them), runs the
# recipes examples/recipes/deep-compression.json and deep-compression-lenet5.json (per-layer
# pruning, fine-tuning, k-means weight sharing, centroid fine-tuning; Huffman coding by the
# writer), evaluates the compressed files with shrink eval, converts them to ONNX and runs them
# in ONNX Runtime, and prints file bytes, ratios and accuracies against the bars (>= 40x and
# >= 39x, at most 0.5 points below dense); then each Huffman stream against the entropy of its
# symbols (bench/huffman_redundancy.py) and the compressed LeNet-5's load time (load_bench).
#
#   bash bench/deep_compression.sh [OUT=bench-out/deep-compression] [THREADS=1]
#
# Needs build/shrink (cmake --build build --target shrink_cli) and, for ONNX Runtime,
# bench/node_modules (npm install --ignore-scripts in bench/). Seeded: the same thread count
# gives the same bytes and accuracies.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench-out/deep-compression}
threads=${2:-1}
shrink=build/shrink
mkdir -p "$out"

accuracy() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['accuracy'])" "$1"; }

for spec in "lenet-300-100 15 deep-compression.json 40" "lenet5 12 deep-compression-lenet5.json 39"; do
  read -r arch epochs recipe bar <<<"$spec"
  if [ ! -f "$out/$arch.shrk" ]; then
    "$shrink" train --arch "$arch" --epochs "$epochs" --batch 64 --lr 0.01 --momentum 0.9 --seed 0 \
      --threads "$threads" -q -o "$out/$arch.shrk" --report "$out/$arch-train.json"
  fi
  "$shrink" compress "$out/$arch.shrk" --recipe "examples/recipes/$recipe" --threads "$threads" \
    --seed 0 --latency-batches 1 -o "$out/$arch-dc.shrk" --report "$out/$arch-dc.json" |
    sed -n '/^stage/,/^file/p'
  "$shrink" eval "$out/$arch.shrk" --threads "$threads" -q --report "$out/$arch-eval.json"
  "$shrink" eval "$out/$arch-dc.shrk" --threads "$threads" -q --report "$out/$arch-dc-eval.json"
  "$shrink" convert "$out/$arch-dc.shrk" "$out/$arch-dc.onnx" >/dev/null
  dense_bytes=$(stat -c %s "$out/$arch.shrk")
  bytes=$(stat -c %s "$out/$arch-dc.shrk")
  dense=$(accuracy "$out/$arch-eval.json")
  compressed=$(accuracy "$out/$arch-dc-eval.json")
  ort="-"
  if [ -d bench/node_modules/onnxruntime-node ]; then
    onnx=$(realpath "$out/$arch-dc.onnx")  # OUT may be relative to the repository or absolute
    ort=$(cd bench && node ort_eval.mjs "$onnx" --threads "$threads" |
      python3 -c "import json,sys; print(json.load(sys.stdin)['accuracy'])")
  fi
  python3 - "$arch" "$dense_bytes" "$bytes" "$dense" "$compressed" "$ort" "$bar" <<'PY'
import sys
arch, dense_bytes, size, dense, compressed, ort, bar = sys.argv[1:]
ratio = int(dense_bytes) / int(size)
drop = 100 * (float(dense) - float(compressed))
ok = ratio >= float(bar) and drop <= 0.5
ort_text = f"{100 * float(ort):.2f}%" if ort != "-" else "not run"
print(f"{arch}: {dense_bytes} -> {size} bytes ({ratio:.2f}x, bar {bar}x); accuracy "
      f"{100 * float(dense):.2f}% -> {100 * float(compressed):.2f}% (shrink eval; ONNX Runtime "
      f"{ort_text}); {'meets' if ok else 'MISSES'} the bar")
PY
done

# The Huffman streams against the entropy of their symbols, and against the best prefix code.
python3 bench/huffman_redundancy.py "$out/lenet-300-100-dc.shrk" "$out/lenet5-dc.shrk"
# Whole-file load time of the compressed LeNet-5 beside its dense file (needs the bench targets:
# cmake --build build --target load_bench).
if [ -x build/bench/load_bench ]; then
  SHRINK_THREADS="$threads" SHRINK_LOAD_MODELS="$out/lenet5-dc.shrk,$out/lenet5.shrk" build/bench/load_bench \
    --benchmark_repetitions=5 --benchmark_report_aggregates_only | grep -E "median|Load Average"
fi
