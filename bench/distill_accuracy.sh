#!/usr/bin/env bash
# Knowledge distillation on Fashion-MNIST, measured over several seeds, beside PyTorch:
# a student (MLP 784-64-10) trained alone and distilled with kd (T=4, alpha=0.9) from a LeNet-5
#  teacher trained by shrink, with the same recipe, epochs, seed, initial weights and batch order
#  (shrink distill --baseline trains both in one run); then the same recipe in PyTorch
#  (bench/pytorch_distill.py) with the same teacher, exported to ONNX and loaded into PyTorch.
# Prints each run's test accuracy, then the means, spreads (sample standard deviation) and gains.
# Recovery after pruning is measured by bench/distill_recovery.sh.
#   bash bench/distill_accuracy.sh [SEEDS="1 2 3"] [THREADS=2]
# Environment: STUDENT_EPOCHS (10), PYTHON (/usr/bin/python3, with torch and onnx; PYTHON=none
# skips the PyTorch side), and SHRINK, TEACHER_EPOCHS, WORK as bench/distill_common.sh reads them.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/distill_common.sh"
python="${PYTHON:-/usr/bin/python3}"
student_epochs="${STUDENT_EPOCHS:-10}"
teacher constant
teacher="$work/lenet5-constant.shrk"

alone=(); kd=()
for seed in $seeds; do
  "$shrink" distill --teacher "$teacher" --student mlp --hidden 64 --loss kd:T=4,alpha=0.9 \
    --epochs "$student_epochs" --baseline --seed "$seed" --threads "$threads" -q \
    -o "$work/mlp64-kd-$seed.shrk" --report "$work/kd-$seed.json" >/dev/null
  alone+=("$(field "$work/kd-$seed.json" baseline accuracy)")
  kd+=("$(field "$work/kd-$seed.json" accuracy)")
  echo "shrink  seed $seed: mlp 784-64-10 alone ${alone[-1]}, kd ${kd[-1]}"
done

echo
echo "| run (test accuracy %, mean ± sd over seeds: $seeds) | | gain |"
echo "|---|---|---|"
echo "| shrink: MLP 784-64-10 alone, $student_epochs epochs | $(stats "${alone[@]}") | |"
echo "| shrink: MLP 784-64-10, kd (T=4, α=0.9) from LeNet-5 | $(stats "${kd[@]}") | $(mean_gain "${alone[@]}" "${kd[@]}") |"
[[ $python == none ]] && exit 0

# PyTorch: the same teacher through ONNX, the same recipe (shrink's defaults: SGD lr 0.01,
# momentum 0.9, batch 64, constant rate) and seeds; its own initial weights and batch order.
"$shrink" convert "$teacher" "$work/lenet5.onnx" >/dev/null
"$python" "$here/bench/pytorch_distill.py" "$work/lenet5.onnx" --seeds "$(echo $seeds | tr ' ' ,)" \
  --epochs "$student_epochs" --T 4 --alpha 0.9 --lr 0.01 --momentum 0.9 --batch 64 --hidden 64 \
  --threads "$threads" > "$work/pytorch.jsonl"
json_field() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$@"; }
py_alone=(); py_kd=()
while read -r line; do
  [[ $line == *'"summary"'* ]] && continue
  py_alone+=("$(json_field "$line" alone)")
  py_kd+=("$(json_field "$line" kd)")
  echo "PyTorch seed $(json_field "$line" seed): mlp 784-64-10 alone ${py_alone[-1]}, kd ${py_kd[-1]}"
done < "$work/pytorch.jsonl"
first="$(head -1 "$work/pytorch.jsonl")"
echo
echo "| PyTorch $(json_field "$first" version): the teacher, loaded from ONNX | $(python3 -c 'import sys; print(f"{100 * float(sys.argv[1]):.2f}")' "$(json_field "$first" teacher_accuracy)") | |"
echo "| PyTorch: MLP 784-64-10 alone | $(stats "${py_alone[@]}") | |"
echo "| PyTorch: MLP 784-64-10, kd (T=4, α=0.9) | $(stats "${py_kd[@]}") | $(mean_gain "${py_alone[@]}" "${py_kd[@]}") |"
echo "| shrink kd − PyTorch kd (difference of the means) | $(mean_gain "${py_kd[@]}" "${kd[@]}") | |"
