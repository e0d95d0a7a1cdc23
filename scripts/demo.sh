#!/usr/bin/env bash
# The main job end to end: train LeNet-5 on Fashion-MNIST, prune 90% of its weights by magnitude,
# fine-tune, and compare accuracy, file size and MACs before and after.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Only the command-line tool: the tests and benchmarks are built by scripts/test.sh.
echo "== build shrink (the library and the command-line tool; a few minutes the first time)"
bash "$here/scripts/build.sh" shrink_cli >/dev/null
shrink="$here/build/shrink"
out="${DEMO_DIR:-$here/demo}"
epochs="${DEMO_EPOCHS:-3}"
mkdir -p "$out"

echo "== train lenet5 on Fashion-MNIST ($epochs epochs)"
"$shrink" train --arch lenet5 --data fashion-mnist --epochs "$epochs" --batch 64 --lr 0.01 \
  --momentum 0.9 --seed 0 -o "$out/lenet5.shrk" --report "$out/train.json"
echo
echo "== prune 90% of the weights, fine-tune 1 epoch"
"$shrink" compress "$out/lenet5.shrk" --prune magnitude:0.9 --finetune-epochs 1 \
  --data fashion-mnist -o "$out/lenet5-pruned.shrk" --report "$out/compress.json"
echo
echo "== evaluate the pruned model"
"$shrink" eval "$out/lenet5-pruned.shrk" --data fashion-mnist --report "$out/eval.json"
echo
echo "== inspect the pruned model"
"$shrink" inspect "$out/lenet5-pruned.shrk"
echo
echo "reports: $out/train.json $out/compress.json $out/eval.json"
