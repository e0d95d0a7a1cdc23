#!/usr/bin/env bash
# One-shot pruning (no fine-tuning) of a model trained on Fashion-MNIST, by every criterion at a
# few sparsities: test accuracy after pruning, as a Markdown table (docs/passes.md quotes it).
# Global scope; the loss-based criteria calibrate on SAMPLES training samples (seed 0).
#   bash bench/prune_criteria.sh [ARCH=lenet-300-100] [EPOCHS=5] [SPARSITIES="0.5 0.7 0.9"] [SAMPLES=1024] [THREADS=2]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
arch="${1:-lenet-300-100}"
epochs="${2:-5}"
sparsities="${3:-0.5 0.7 0.9}"
samples="${4:-1024}"
threads="${5:-2}"
shrink="${SHRINK:-$here/build/shrink}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
field() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

"$shrink" train --arch "$arch" --data fashion-mnist --epochs "$epochs" --threads "$threads" -q \
  -o "$work/model.shrk" --report "$work/train.json" >/dev/null
dense="$(field "$work/train.json" accuracy)"
echo "$arch, $epochs epochs, dense test accuracy $(python3 -c "print(f'{100*$dense:.2f}')")%;" \
  "one-shot, global scope, $samples calibration samples"
header="| criterion |"
rule="|---|"
for s in $sparsities; do header+=" $(python3 -c "print(f'{100*$s:.0f}')")% |"; rule+="---|"; done
echo "$header seconds at the highest |"
echo "$rule---|"
for method in magnitude snip taylor fisher obd obs; do
  row="| $method |"
  for s in $sparsities; do
    options="$method:$s"
    [[ "$method" != magnitude ]] && options+=",samples=$samples"
    "$shrink" compress "$work/model.shrk" --prune "$options" --data fashion-mnist \
      --threads "$threads" -q -o "$work/pruned.shrk" --report "$work/c.json" >/dev/null
    row+=" $(python3 -c "import json; print(f'{100*json.load(open(\"$work/c.json\"))[\"accuracy_after\"]:.2f}')") |"
  done
  seconds="$(python3 -c "import json; print(f'{json.load(open(\"$work/c.json\"))[\"passes\"][0][\"seconds\"]:.1f}')")"
  echo "$row $seconds |"
done
