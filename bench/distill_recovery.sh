#!/usr/bin/env bash
# Recovery after pruning on Fashion-MNIST, measured over several seeds: a LeNet-5 trained by
# shrink (10 epochs, cosine rate) is pruned 95% by magnitude (one global threshold), then
# fine-tuned for EPOCHS (2) at shrink compress's fine-tuning rate (0.001) either plainly
# (train.finetune: cross-entropy on the labels) or by distill.recover with the model before
# pruning as the teacher, with each set of losses given as an argument after the seeds
# (--recover specs, separated by spaces; default "kd:T=4,alpha=0.9"). Every run of a seed sees
# the same batches.
# Prints each run's test accuracy, then the means, spreads (sample standard deviation) and the
# gain of each recovery over plain fine-tuning.
#   bash bench/distill_recovery.sh [SEEDS="1 2 3"] [THREADS=2] [LOSSES...]
#   e.g. bash bench/distill_recovery.sh "1 2 3" 1 kd:T=4,alpha=0.9 "kd:T=1,alpha=0.5 hint:student=fc1,teacher=fc1,regressor=false,weight=1"
# Environment: TEACHER_SCHEDULE (cosine: the model is trained to convergence, as models are
# before they are compressed; constant keeps lr 0.01 to the end, and then plain fine-tuning at the
# lower rate gains from the decay alone, see docs/distillation.md), EPOCHS (2), LR (0.001), and
# SHRINK, TEACHER_EPOCHS, WORK as bench/distill_common.sh reads them.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/distill_common.sh"
shift $(( $# < 2 ? $# : 2 ))
variants=("$@")
[[ ${#variants[@]} -gt 0 ]] || variants=("kd:T=4,alpha=0.9")
teacher_schedule="${TEACHER_SCHEDULE:-cosine}"
epochs="${EPOCHS:-2}"
lr="${LR:-0.001}"
teacher "$teacher_schedule"
teacher="$work/lenet5-$teacher_schedule.shrk"
"$shrink" compress "$teacher" --prune magnitude:0.95 --threads "$threads" -q -o "$work/p95.shrk" \
  --report "$work/p95.json" >/dev/null
echo "pruned 95%, not fine-tuned: test accuracy $(field "$work/p95.json" accuracy_after)"

compress() {  # compress NAME SEED [FLAGS...]
  local name=$1 seed=$2; shift 2
  "$shrink" compress "$teacher" --prune magnitude:0.95 --finetune-epochs "$epochs" --finetune-lr "$lr" \
    --seed "$seed" --threads "$threads" -q -o "$work/$name-$seed.shrk" --report "$work/$name-$seed.json" \
    "$@" >/dev/null
  field "$work/$name-$seed.json" accuracy_after
}
finetune=()
declare -A recovered
for seed in $seeds; do
  finetune+=("$(compress finetune "$seed")")
  line="seed $seed: train.finetune ${finetune[-1]}"
  for i in "${!variants[@]}"; do
    flags=()
    for loss in ${variants[$i]}; do flags+=(--recover "$loss"); done
    recovered[$i]+=" $(compress "recover$i" "$seed" "${flags[@]}")"
    line+=", distill.recover ${variants[$i]}: ${recovered[$i]##* }"
  done
  echo "$line"
done

echo
echo "| LeNet-5 pruned 95%, $epochs epochs at lr $lr (test accuracy %, mean ± sd over seeds: $seeds) | | over fine-tuning |"
echo "|---|---|---|"
echo "| train.finetune | $(stats "${finetune[@]}") | |"
for i in "${!variants[@]}"; do
  read -ra acc <<< "${recovered[$i]}"
  echo "| distill.recover \`${variants[$i]}\` | $(stats "${acc[@]}") | $(mean_gain "${finetune[@]}" "${acc[@]}") |"
done
