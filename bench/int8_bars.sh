#!/usr/bin/env bash
# The int8 table of docs/quantization.md, end to end on Fashion-MNIST: trains LeNet-300-100
# (15 epochs) and LeNet-5 (12 epochs) as issue #10's measurements do (skipped when OUT already
# holds them), quantizes each with `--quantize int8` and each of the four calibrations
# (post-training), with 1 epoch of quantization-aware fine-tuning, and fine-tunes the fp32 model
# 1 epoch as the QAT row's like-for-like reference; exports the QAT and minmax models as QDQ
# ONNX and evaluates them in ONNX Runtime; runs PyTorch's eager post-training int8 on the same
# fp32 weights. Prints one line per row.
#
#   bash bench/int8_bars.sh [OUT=bench-out/int8] [THREADS=1]
#
# REDUCE_RANGE=on (or off) passes quant.int8's reduce_range (7-bit weights; default auto: on
# only where the int8 kernels lack VNNI) and names the int8 files M-...-rr<on|off>.
#
# Needs build/shrink, node with bench/node_modules (onnxruntime-node) and /usr/bin/python3 with
# torch. Every run is seeded, so the accuracies repeat exactly for a thread count.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench-out/int8}
threads=${2:-1}
shrink=${SHRINK:-build/shrink}  # SHRINK=path runs another build
reduce=${REDUCE_RANGE:-}
int8=int8${reduce:+:reduce_range=$reduce}
tag=${reduce:+-rr$reduce}
mkdir -p "$out"

accuracy() { python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print("%.2f" % (100 * r[sys.argv[2]]))' "$@"; }
ratio() { python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print("%.1f%%" % (100 * r["file_bytes_after"] / r["file_bytes_before"]))' "$1"; }

for spec in "lenet-300-100 15" "lenet5 12"; do
  set -- $spec
  arch=$1 epochs=$2
  [ -f "$out/$arch.shrk" ] || "$shrink" train --arch "$arch" --data fashion-mnist --epochs "$epochs" --lr 0.01 \
    --momentum 0.9 --seed 0 --threads "$threads" -q -o "$out/$arch.shrk"
  for calibration in minmax percentile:99.99 entropy mse; do
    name="$arch-ptq-${calibration/:/_}$tag"
    "$shrink" compress "$out/$arch.shrk" --quantize "$int8" --calibration "$calibration" --threads "$threads" \
      --no-latency -q -o "$out/$name.shrk" --report "$out/$name.json" > /dev/null
    [ "$calibration" = minmax ] && echo "$arch fp32: $(accuracy "$out/$name.json" accuracy_before)%"
    echo "$arch $int8 PTQ $calibration: $(accuracy "$out/$name.json" accuracy_after)%, file $(ratio "$out/$name.json") of fp32"
  done
  "$shrink" compress "$out/$arch.shrk" --quantize "$int8" --finetune-epochs 1 --threads "$threads" --no-latency -q \
    -o "$out/$arch-qat$tag.shrk" --report "$out/$arch-qat$tag.json" > /dev/null
  echo "$arch $int8 QAT 1 epoch: $(accuracy "$out/$arch-qat$tag.json" accuracy_after)%"
  echo '{"passes": [{"pass": "train.finetune", "epochs": 1}]}' > "$out/finetune1.json"
  "$shrink" compress "$out/$arch.shrk" --recipe "$out/finetune1.json" --threads "$threads" --no-latency -q \
    -o "$out/$arch-ft1.shrk" --report "$out/$arch-ft1.json" > /dev/null
  echo "$arch fp32 fine-tuned 1 epoch (QAT's reference): $(accuracy "$out/$arch-ft1.json" accuracy_after)%"
  for name in "$arch-ptq-minmax$tag" "$arch-qat$tag"; do
    "$shrink" convert "$out/$name.shrk" "$out/$name.onnx" -q > /dev/null
    echo "$name.onnx (QDQ) in ONNX Runtime: $(node bench/ort_eval.mjs "$out/$name.onnx" --threads "$threads" | \
      python3 -c 'import json, sys; print("%.2f%%" % (100 * json.loads(sys.stdin.read().splitlines()[-1])["accuracy"]))')"
  done
  echo "PyTorch eager PTQ: $(/usr/bin/python3 bench/pytorch_int8_ptq.py "$out/$arch.shrk" "$arch" --threads "$threads" | \
    python3 -c 'import json, sys; r = json.loads(sys.stdin.read()); print("%s: fp32 %.2f%% -> int8 %.2f%%" % (r["peer"], 100 * r["fp32_accuracy"], 100 * r["int8_accuracy"]))')"
done
