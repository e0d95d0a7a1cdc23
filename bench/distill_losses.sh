#!/usr/bin/env bash
# Each distillation loss of shrink distill on one student, Fashion-MNIST, over several seeds: an
# MLP 784-64-10 alone, with kd, hint (its hidden layer fc1 to the teacher's fc1 through a learned
# linear regressor, weight 1: the default 100 diverges at lr 0.01 there), rkd (distances and
# angles of the outputs), kd from two teachers (LeNet-5 trained at a constant and at a cosine
# rate, equal weights) and born-again (2 generations, no teacher: the student alone teaches
# generation 1, which teaches generation 2). attention and fsp need feature maps [C, H, W], which
# an MLP has not. Every run of a seed starts from the same initial weights and sees the same
# batches. Runs are independent per seed: separate invocations may run side by side.
#   bash bench/distill_losses.sh [SEEDS="1 2 3"] [THREADS=2]
# Environment: SHRINK (default build/shrink), TEACHER_EPOCHS (10), STUDENT_EPOCHS (5), WORK (a
# directory to keep the models and reports in, and to reuse the teachers and finished runs from).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seeds="${1:-1 2 3}"
threads="${2:-2}"
shrink="${SHRINK:-$here/build/shrink}"
teacher_epochs="${TEACHER_EPOCHS:-10}"
epochs="${STUDENT_EPOCHS:-5}"
[[ -x $shrink ]] || { echo "error: $shrink is not built (cmake --build build --target shrink_cli)" >&2; exit 2; }
if [[ -n ${WORK:-} ]]; then work="$WORK"; mkdir -p "$work"; else work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT; fi
field() { python3 -c 'import json, sys; r = json.load(open(sys.argv[1]))
for k in sys.argv[2:]: r = r[int(k)] if isinstance(r, list) else r[k]
print(r)' "$@"; }
stats() { python3 -c 'import statistics as s, sys; v = [100 * float(x) for x in sys.argv[1:]]
print(f"{s.mean(v):.2f} ± {s.stdev(v) if len(v) > 1 else 0:.2f}")' "$@"; }

for schedule in constant cosine; do
  if [[ ! -f $work/lenet5-$schedule.shrk ]]; then
    "$shrink" train --arch lenet5 --epochs "$teacher_epochs" --schedule "$schedule" --seed 0 \
      --threads "$threads" -q -o "$work/lenet5-$schedule.shrk" --report "$work/teacher-$schedule.json"
  fi
  echo "teacher lenet5 ($teacher_epochs epochs, $schedule rate): test accuracy $(field "$work/teacher-$schedule.json" accuracy)"
done
t1="$work/lenet5-constant.shrk"
t2="$work/lenet5-cosine.shrk"

distill() {  # distill NAME SEED FLAGS...: the saved student's test accuracy
  local name=$1 seed=$2; shift 2
  [[ -f $work/$name-$seed.json ]] || "$shrink" distill --student mlp --hidden 64 --epochs "$epochs" --seed "$seed" --threads "$threads" -q \
    -o "$work/$name-$seed.shrk" --report "$work/$name-$seed.json" "$@" >/dev/null
  field "$work/$name-$seed.json" accuracy
}
declare -A acc
names=(alone kd hint rkd two-teachers born-again)
for seed in $seeds; do
  acc[kd]+=" $(distill kd "$seed" --teacher "$t1" --loss kd:T=4,alpha=0.9 --baseline)"
  acc[alone]+=" $(field "$work/kd-$seed.json" baseline accuracy)"
  acc[hint]+=" $(distill hint "$seed" --teacher "$t1" --loss hint:student=fc1,teacher=fc1,weight=1)"
  acc[rkd]+=" $(distill rkd "$seed" --teacher "$t1" --loss rkd)"
  acc[two-teachers]+=" $(distill two "$seed" --teacher "$t1" --teacher "$t2" --loss kd:T=4,alpha=0.9)"
  acc[born-again]+=" $(distill born "$seed" --loss kd:T=4,alpha=0.9 --generations 2)"
  line="seed $seed:"
  for n in "${names[@]}"; do line+=" $n ${acc[$n]##* }"; done
  echo "$line"
done

echo
echo "| MLP 784-64-10, $epochs epochs (test accuracy %, mean ± sd over seeds: $seeds) | | over alone |"
echo "|---|---|---|"
read -ra alone <<< "${acc[alone]}"
for n in "${names[@]}"; do
  read -ra v <<< "${acc[$n]}"
  gain="$(python3 -c 'import sys; n = len(sys.argv) // 2; a = sys.argv[1:n + 1]; b = sys.argv[n + 1:]
print(f"{100 * sum(float(y) - float(x) for x, y in zip(a, b)) / n:+.2f}")' "${alone[@]}" "${v[@]}")"
  [[ $n == alone ]] && gain=""
  echo "| $n | $(stats "${v[@]}") | $gain |"
done
