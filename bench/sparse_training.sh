#!/usr/bin/env bash
# Sparse networks trained with the same recipe as the dense one, on Fashion-MNIST: test accuracy
# of each against the dense model of the same seed, seed after seed, then the mean over the
# seeds, as Markdown tables (docs/passes.md and docs/benchmarks.md quote them).
# Recipe, the same for every row: shrink train --arch ARCH --data fashion-mnist --epochs EPOCHS
# $RECIPE --seed SEED --threads 1, plus one sparsity method per row; the bars of issue 12 in the
# bar column (AGP at most 0.5 points below dense, the others 1.0), judged on the mean; for a
# pruning pass at initialisation, the hidden units it left without input or output, per layer
# ("fc1+fc2"), seed after seed.
#   bash bench/sparse_training.sh [ARCH=lenet-300-100] [EPOCHS=20] [SEEDS="0 1 2"]
#   RECIPE="--lr 0.01 --momentum 0.9" bash bench/sparse_training.sh   # shrink train's defaults
#   ONLY="dense|snip" bash bench/sparse_training.sh                   # rows whose name matches
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
arch="${1:-lenet-300-100}"
epochs="${2:-20}"
seeds="${3:-0 1 2}"
recipe="${RECIPE:---lr 0.05 --momentum 0.9 --schedule cosine}"
only="${ONLY:-.}"
shrink="${SHRINK:-$here/build/shrink}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# name | flags | allowed drop in points below dense (empty: the reference; "none": no bar, a
# point of comparison)
runs=(
  "dense||"
  "agp 95%|--prune agp:0.95|0.5"
  "snip 95% at init|--prune-at-init snip:0.95|1.0"
  "snip 95% at init, rescaled|--prune-at-init snip:0.95,rescale=true|1.0"
  "snip 95% at init, rescaled, reclaimed|--prune-at-init snip:0.95,rescale=true,reclaim=true|1.0"
  "snip 95% at init, rescaled, 5 steps|--prune-at-init snip:0.95,rescale=true,steps=5|1.0"
  "snip 95% at init, rescaled, FORCE|--prune-at-init snip:0.95,rescale=true,steps=20,schedule=geometric,regrow=true|1.0"
  "set 90%|--sparse-training set:0.9|1.0"
  "rigl 90%|--sparse-training rigl:0.9|1.0"
  "set 95%|--sparse-training set:0.95|none"
  "rigl 95%|--sparse-training rigl:0.95|none"
)

batch="$(grep -oE -- '--batch [0-9]+' <<<"$recipe" | cut -d" " -f2 || true)"
echo "$arch, $epochs epochs, $recipe, batch ${batch:-64}, 1 thread, seeds $seeds; $(nproc) cores" \
  "($(grep -o -m1 'avx512f' /proc/cpuinfo || echo 'no avx512'))"
for seed in $seeds; do
  for entry in "${runs[@]}"; do
    IFS='|' read -r name flags bar <<<"$entry"
    [[ -z "$bar" ]] || grep -Eq "$only" <<<"$name" || continue
    # shellcheck disable=SC2086  # the recipe and flags are words
    "$shrink" train --arch "$arch" --data fashion-mnist --epochs "$epochs" $recipe \
      --seed "$seed" --threads 1 $flags -q -o "$work/model.shrk" \
      --report "$work/$seed-${name// /_}.json" >/dev/null
  done
done
python3 - "$work" "$seeds" "${runs[@]}" <<'PY'
import json, os, statistics, sys
work, seeds, runs = sys.argv[1], sys.argv[2].split(), [r.split("|") for r in sys.argv[3:]]
def report(seed, name):
    path = os.path.join(work, f"{seed}-{name.replace(' ', '_')}.json")
    return json.load(open(path)) if os.path.exists(path) else None
print("| run | flags | weight sparsity | " + " | ".join(f"seed {s}" for s in seeds) +
      " | mean | vs dense | bar | hidden units cut off | seconds per run |")
print("|---|---|---|" + "---|" * len(seeds) + "---|---|---|---|---|")
def cut_off(r):  # a pruning pass at init reports the units left without input or output
    dead = r.get("at_init", [{}])[0].get("dead_units")
    return "" if dead is None else "+".join(str(n) for n in dead.values())
dense = {s: 100 * report(s, "dense")["accuracy"] for s in seeds}
for name, flags, bar in runs:
    reports = [report(s, name) for s in seeds]
    if None in reports:
        continue
    acc = [100 * r["accuracy"] for r in reports]
    cells = [f"{a:.2f}%" + ("" if not bar else f" ({a - dense[s]:+.2f})") for s, a in zip(seeds, acc)]
    mean = statistics.mean(acc)
    delta = mean - statistics.mean(dense.values())
    verdict = ("" if bar in ("", "none") else
               f"≥ -{bar}: " + ("met" if delta >= -float(bar) else "missed"))
    seconds = statistics.median(r["train_seconds"] for r in reports)
    print(f"| {name} | {'`' + flags + '`' if flags else ''} | {100 * reports[0]['sparsity']:.1f}% | "
          + " | ".join(cells) + f" | {mean:.2f}% | {'' if not bar else f'{delta:+.2f}'} | "
          f"{verdict} | {', '.join(filter(None, map(cut_off, reports)))} | {seconds:.0f} |")
PY
