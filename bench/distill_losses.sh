#!/usr/bin/env bash
# Each distillation loss of shrink distill, Fashion-MNIST, over several seeds, on two students
# of about 51k parameters taught by LeNet-5 (431k, 10 epochs):
#  mlp: an MLP 784-64-10 alone, with kd, hint (its hidden layer fc1 to the teacher's fc1 through
#    a learned linear regressor), rkd (distances and angles of the outputs), kd from two teachers
#    (LeNet-5 trained at a constant and at a cosine rate, equal weights) and born-again
#    (2 generations, no teacher: the student alone teaches generation 1, which teaches
#    generation 2);
#  lenet5-h32: LeNet-5 with the teacher's convolutions (20 and 50 channels) and a hidden layer of
#    32 instead of 500, alone, with kd, hint (conv2 to the teacher's conv2 through a learned 1x1
#    convolution), attention (conv2's spatial attention map), fsp (the flow from pool1 to conv2)
#    and rkd (distances and angles of the outputs). attention and fsp need feature maps
#    [C, H, W], which an MLP has not; fsp needs the teacher's channel counts at both layers,
#    which a narrower LeNet-5 has not.
# Every loss at its default weight. Every run of a student and seed starts from the same initial
# weights and sees the same batches. Runs are independent per seed: separate invocations (with
# the same WORK) may run side by side.
#   bash bench/distill_losses.sh [SEEDS="1 2 3"] [THREADS=2]
# Environment: STUDENTS ("mlp lenet5-h32": which blocks to run), STUDENT_EPOCHS (5), LR (0.01:
# every student's SGD learning rate; the conv student's kd diverges at 0.01 in seed 2, see
# docs/benchmarks.md), and SHRINK,
# TEACHER_EPOCHS, WORK as bench/distill_common.sh reads them.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/distill_common.sh"
epochs="${STUDENT_EPOCHS:-5}"
lr="${LR:-0.01}"
students="${STUDENTS:-mlp lenet5-h32}"
teacher constant
teacher cosine
t1="$work/lenet5-constant.shrk"
t2="$work/lenet5-cosine.shrk"

# distill STUDENT NAME SEED FLAGS...: the saved student's test accuracy, or "stopped" when
# training stopped with an error (a loss that diverged: shrink's error line is on stderr).
distill() {
  local student=$1 name=$2 seed=$3 out="$work/$1-$2-$3"; shift 3
  local -a arch
  case $student in
    mlp) arch=(--student mlp --hidden 64) ;;
    lenet5-h32) arch=(--student lenet5 --arch-options '{"channels": [20, 50], "hidden": [32]}') ;;
    *) echo "error: unknown student $student (mlp, lenet5-h32)" >&2; exit 2 ;;
  esac
  if [[ ! -f $out.json ]] && ! "$shrink" distill "${arch[@]}" --epochs "$epochs" --lr "$lr" --seed "$seed" \
    --threads "$threads" -q -o "$out.shrk" --report "$out.json" "$@" >/dev/null; then
    echo stopped
    return
  fi
  field "$out.json" accuracy
}

for student in $students; do
  declare -A acc=()
  case $student in
    mlp) names=(alone kd hint rkd two-teachers born-again) ;;
    *) names=(alone kd hint attention fsp rkd) ;;
  esac
  for seed in $seeds; do
    acc[kd]+=" $(distill "$student" kd "$seed" --teacher "$t1" --loss kd:T=4,alpha=0.9 --baseline)"
    acc[alone]+=" $([[ -f $work/$student-kd-$seed.json ]] && field "$work/$student-kd-$seed.json" baseline accuracy || echo stopped)"
    if [[ $student == mlp ]]; then
      acc[hint]+=" $(distill "$student" hint "$seed" --teacher "$t1" --loss hint:student=fc1,teacher=fc1)"
      acc[rkd]+=" $(distill "$student" rkd "$seed" --teacher "$t1" --loss rkd)"
      acc[two-teachers]+=" $(distill "$student" two "$seed" --teacher "$t1" --teacher "$t2" --loss kd:T=4,alpha=0.9)"
      acc[born-again]+=" $(distill "$student" born "$seed" --loss kd:T=4,alpha=0.9 --generations 2)"
    else
      acc[hint]+=" $(distill "$student" hint "$seed" --teacher "$t1" --loss hint:student=conv2,teacher=conv2)"
      acc[attention]+=" $(distill "$student" attention "$seed" --teacher "$t1" --loss attention:student=conv2,teacher=conv2)"
      acc[fsp]+=" $(distill "$student" fsp "$seed" --teacher "$t1" \
        --loss fsp:student_from=pool1,student_to=conv2,teacher_from=pool1,teacher_to=conv2)"
      acc[rkd]+=" $(distill "$student" rkd "$seed" --teacher "$t1" --loss rkd)"
    fi
    line="$student seed $seed:"
    for n in "${names[@]}"; do line+=" $n ${acc[$n]##* }"; done
    echo "$line"
  done

  echo
  echo "| $student, $epochs epochs, lr $lr (test accuracy %, mean ± sd over seeds: $seeds) | | over alone |"
  echo "|---|---|---|"
  read -ra alone <<< "${acc[alone]}"
  for n in "${names[@]}"; do
    read -ra v <<< "${acc[$n]}"
    gain="$(mean_gain "${alone[@]}" "${v[@]}")"
    [[ $n == alone ]] && gain=""
    echo "| $n | $(stats "${v[@]}") | $gain |"
  done
  echo
done
