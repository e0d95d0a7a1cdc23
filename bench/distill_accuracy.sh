#!/usr/bin/env bash
# Distillation on Fashion-MNIST, measured over several seeds:
#  1. a student (MLP 784-64-10) trained alone and distilled with kd from a LeNet-5 teacher trained
#     by shrink, with the same recipe, epochs, seed, initial weights and batch order (shrink
#     distill --baseline trains both in one run);
#  2. LeNet-5 pruned 95% by magnitude, then fine-tuned for 2 epochs plainly (train.finetune) or
#     by distillation from the model before pruning (distill.recover, --recover kd).
# Prints each run's test accuracy, then the means, spreads (sample standard deviation) and gains.
#   bash bench/distill_accuracy.sh [SEEDS="1 2 3"] [THREADS=2]
# Environment: SHRINK (default build/shrink), TEACHER_EPOCHS (10), STUDENT_EPOCHS (10),
# WORK (a directory to keep the models and reports in; default a temporary one).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seeds="${1:-1 2 3}"
threads="${2:-2}"
shrink="${SHRINK:-$here/build/shrink}"
teacher_epochs="${TEACHER_EPOCHS:-10}"
student_epochs="${STUDENT_EPOCHS:-10}"
[[ -x $shrink ]] || { echo "error: $shrink is not built (cmake --build build --target shrink_cli)" >&2; exit 2; }
if [[ -n ${WORK:-} ]]; then work="$WORK"; mkdir -p "$work"; else work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT; fi
field() { python3 -c 'import json, sys; r = json.load(open(sys.argv[1]))
for k in sys.argv[2:]: r = r[int(k)] if isinstance(r, list) else r[k]
print(r)' "$@"; }
stats() { python3 -c 'import statistics as s, sys; v = [100 * float(x) for x in sys.argv[1:]]
print(f"{s.mean(v):.2f} ± {s.stdev(v) if len(v) > 1 else 0:.2f}")' "$@"; }

teacher="$work/lenet5.shrk"
if [[ ! -f $teacher ]]; then
  "$shrink" train --arch lenet5 --epochs "$teacher_epochs" --seed 0 --threads "$threads" -q \
    -o "$teacher" --report "$work/teacher.json"
fi
echo "teacher lenet5 ($teacher_epochs epochs, seed 0): test accuracy $(field "$work/teacher.json" accuracy)"

alone=(); kd=(); finetune=(); recover=()
for seed in $seeds; do
  "$shrink" distill --teacher "$teacher" --student mlp --hidden 64 --loss kd:T=4,alpha=0.9 \
    --epochs "$student_epochs" --baseline --seed "$seed" --threads "$threads" -q \
    -o "$work/mlp64-kd-$seed.shrk" --report "$work/kd-$seed.json" >/dev/null
  alone+=("$(field "$work/kd-$seed.json" baseline accuracy)")
  kd+=("$(field "$work/kd-$seed.json" accuracy)")
  echo "seed $seed: mlp 784-64-10 alone ${alone[-1]}, kd ${kd[-1]}"

  "$shrink" compress "$teacher" --prune magnitude:0.95 --finetune-epochs 2 --seed "$seed" \
    --threads "$threads" -q -o "$work/p95-ft-$seed.shrk" --report "$work/ft-$seed.json" >/dev/null
  "$shrink" compress "$teacher" --prune magnitude:0.95 --recover kd --finetune-epochs 2 --seed "$seed" \
    --threads "$threads" -q -o "$work/p95-kd-$seed.shrk" --report "$work/rec-$seed.json" >/dev/null
  finetune+=("$(field "$work/ft-$seed.json" accuracy_after)")
  recover+=("$(field "$work/rec-$seed.json" accuracy_after)")
  echo "seed $seed: lenet5 pruned 95%, 2 epochs: fine-tune ${finetune[-1]}, distill.recover ${recover[-1]}"
done

mean_gain() { python3 -c 'import sys; n = len(sys.argv) // 2; a = sys.argv[1:n + 1]; b = sys.argv[n + 1:]
print(f"{100 * sum(float(y) - float(x) for x, y in zip(a, b)) / n:+.2f}")' "$@"; }
echo
echo "| run (test accuracy %, mean ± sd over seeds: $seeds) | | gain |"
echo "|---|---|---|"
echo "| MLP 784-64-10 alone, $student_epochs epochs | $(stats "${alone[@]}") | |"
echo "| MLP 784-64-10, kd (T=4, α=0.9) from LeNet-5 | $(stats "${kd[@]}") | $(mean_gain "${alone[@]}" "${kd[@]}") |"
echo "| LeNet-5 pruned 95%, train.finetune 2 epochs | $(stats "${finetune[@]}") | |"
echo "| LeNet-5 pruned 95%, distill.recover (kd) 2 epochs | $(stats "${recover[@]}") | $(mean_gain "${finetune[@]}" "${recover[@]}") |"
