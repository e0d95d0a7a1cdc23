#!/usr/bin/env bash
# Int8 quantization-aware training with and without learned step sizes (LSQ, issue #10): for
# LeNet-300-100 and LeNet-5 on Fashion-MNIST, 1 epoch of QAT after `--quantize int8` (steps fixed
# at the calibrated scales) and after `--quantize int8:lsq=true` (steps learned), and the fp32
# model fine-tuned the same epoch (QAT's like-for-like reference), for seeds 0, 1 and 2 (the
# fine-tuning's shuffle). The fp32 models are bench/int8_bars.sh's (trained here the same way
# when OUT lacks them). The seed-0 LSQ model is exported as QDQ ONNX and evaluated in ONNX
# Runtime beside `shrink eval` of the .shrk (int8 kernels). Prints one line per run.
#
#   bash bench/int8_lsq.sh [OUT=bench-out/int8] [THREADS=1] [SEEDS="0 1 2"]
#
# Needs build/shrink, and node with bench/node_modules (onnxruntime-node) for the ORT line.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench-out/int8}
threads=${2:-1}
seeds=${3:-0 1 2}
shrink=${SHRINK:-build/shrink}
mkdir -p "$out"

accuracy() { python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print("%.2f" % (100 * r[sys.argv[2]]))' "$@"; }

echo '{"passes": [{"pass": "train.finetune", "epochs": 1}]}' > "$out/finetune1.json"
for spec in "lenet-300-100 15" "lenet5 12"; do
  set -- $spec
  arch=$1 epochs=$2
  [ -f "$out/$arch.shrk" ] || "$shrink" train --arch "$arch" --data fashion-mnist --epochs "$epochs" --lr 0.01 \
    --momentum 0.9 --seed 0 --threads "$threads" -q -o "$out/$arch.shrk"
  for seed in $seeds; do
    for variant in int8 int8:lsq=true; do
      name="$arch-qat$([ "$variant" = int8 ] || echo -lsq)-s$seed"
      "$shrink" compress "$out/$arch.shrk" --quantize "$variant" --finetune-epochs 1 --seed "$seed" \
        --threads "$threads" --no-latency -q -o "$out/$name.shrk" --report "$out/$name.json" > /dev/null
      echo "$arch seed $seed $variant QAT 1 epoch: fp32 $(accuracy "$out/$name.json" accuracy_before)% -> $(accuracy "$out/$name.json" accuracy_after)%"
    done
    name="$arch-ft1-s$seed"
    "$shrink" compress "$out/$arch.shrk" --recipe "$out/finetune1.json" --seed "$seed" --threads "$threads" \
      --no-latency -q -o "$out/$name.shrk" --report "$out/$name.json" > /dev/null
    echo "$arch seed $seed fp32 fine-tuned 1 epoch (reference): $(accuracy "$out/$name.json" accuracy_after)%"
  done
  name="$arch-qat-lsq-s0"
  if [ -f "$out/$name.shrk" ] && [ -d bench/node_modules ]; then
    "$shrink" convert "$out/$name.shrk" "$out/$name.onnx" -q > /dev/null
    "$shrink" eval "$out/$name.shrk" --data fashion-mnist --threads "$threads" -q --report "$out/$name-eval.json" > /dev/null
    echo "$name: shrink eval (int8 kernels) $(accuracy "$out/$name-eval.json" accuracy)%, QDQ .onnx in ONNX Runtime $(node bench/ort_eval.mjs "$out/$name.onnx" --threads "$threads" | \
      python3 -c 'import json, sys; print("%.2f%%" % (100 * json.loads(sys.stdin.read().splitlines()[-1])["accuracy"]))')"
  fi
done
