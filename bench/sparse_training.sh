#!/usr/bin/env bash
# Sparse networks trained with the same recipe as the dense one, on Fashion-MNIST: test accuracy
# of each against the dense model, in one run, as a Markdown table (docs/passes.md quotes it).
# Recipe: shrink train --arch ARCH --data fashion-mnist --epochs EPOCHS --lr 0.01 --momentum 0.9
# --seed SEED --threads 1, plus one sparsity method per row; the bars of issue 12 in the last
# column (AGP at most 0.5 points below dense, the others 1.0).
#   bash bench/sparse_training.sh [ARCH=lenet-300-100] [EPOCHS=20] [SEED=0]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
arch="${1:-lenet-300-100}"
epochs="${2:-20}"
seed="${3:-0}"
shrink="${SHRINK:-$here/build/shrink}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# name | flags | allowed drop in points below dense (empty: the reference)
runs=(
  "dense||"
  "agp 95%|--prune agp:0.95|0.5"
  "snip 95% at init|--prune-at-init snip:0.95|1.0"
  "set 90%|--sparse-training set:0.9|1.0"
  "rigl 90%|--sparse-training rigl:0.9|1.0"
)

echo "$arch, $epochs epochs, lr 0.01, momentum 0.9, batch 64, seed $seed, 1 thread; $(nproc) cores" \
  "($(grep -o -m1 'avx512f' /proc/cpuinfo || echo 'no avx512'))"
echo "| run | flags | weight sparsity | test accuracy | vs dense | bar | seconds |"
echo "|---|---|---|---|---|---|---|"
dense=""
for entry in "${runs[@]}"; do
  IFS='|' read -r name flags bar <<<"$entry"
  report="$work/${name// /_}.json"
  # shellcheck disable=SC2086  # flags are words
  "$shrink" train --arch "$arch" --data fashion-mnist --epochs "$epochs" --lr 0.01 --momentum 0.9 \
    --seed "$seed" --threads 1 $flags -q -o "$work/model.shrk" --report "$report" >/dev/null
  python3 - "$report" "$name" "$flags" "$bar" "$dense" <<'PY'
import json, sys
report, name, flags, bar, dense = sys.argv[1:]
r = json.load(open(report))
acc = 100 * r["accuracy"]
if not dense:
    print(f"| {name} | | {100 * r['sparsity']:.1f}% | {acc:.2f}% | | | {r['train_seconds']:.0f} |")
else:
    delta = acc - 100 * float(dense)
    verdict = "met" if delta >= -float(bar) else "missed"
    print(f"| {name} | `{flags}` | {100 * r['sparsity']:.1f}% | {acc:.2f}% | {delta:+.2f} | "
          f"≥ -{bar}: {verdict} | {r['train_seconds']:.0f} |")
PY
  [[ -z "$dense" ]] && dense="$(python3 -c "import json; print(json.load(open('$report'))['accuracy'])")"
done
