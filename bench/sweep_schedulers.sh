#!/usr/bin/env bash
# The 24-point pruning curve (examples/sweeps/prune-curve.json: LeNet-300-100, magnitude 0-95%
# x 2 seeds, one epoch of fine-tuning) run three ways on this machine — unsharded with --jobs,
# as four GNU parallel shards, and as a four-task Slurm job array on a one-node Slurm
# (examples/slurm/single-node.sh, started here) — each merged and compared point by point:
# the accuracies must be bit-identical. Then the Pareto front of accuracy against file size.
#   sudo bash bench/sweep_schedulers.sh [WORK_DIR=sweep-bench] [BASE_EPOCHS=10]
# Its output for the record is in docs/benchmarks.md.
# Needs root for Slurm's daemons; installs parallel, slurm-wlm and munge when missing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(realpath -m "${1:-sweep-bench}")"
epochs="${2:-10}"
bash "$here/scripts/install-deps.sh"
bash "$here/scripts/build.sh" shrink_cli >/dev/null
shrink="$here/build/shrink"
command -v parallel >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq parallel >/dev/null
mkdir -p "$work"
cd "$work"

# The sweep's base model, trained here.
"$shrink" train --arch lenet-300-100 --epochs "$epochs" --seed 0 --threads 2 -q -o base.shrk
sweep="$here/examples/sweeps/prune-curve.json"
model="$work/base.shrk"
points=$("$shrink" sweep "$sweep" --list | wc -l)
echo "sweep: $points points; CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) logical CPUs" \
  "$(grep -q avx512f /proc/cpuinfo && echo '(AVX-512)')"

rm -f unsharded.jsonl parallel.shard*.jsonl slurm.shard-*.jsonl
start=$(date +%s)
"$shrink" sweep "$sweep" --model "$model" --out unsharded.jsonl --jobs 2 -q
echo "unsharded (--jobs 2): $(( $(date +%s) - start )) s"

start=$(date +%s)
parallel -j 2 "$shrink" sweep "$sweep" --model "$model" --shard {}/4 --out parallel.shard{}.jsonl -q ::: 0 1 2 3
"$shrink" sweep --merge parallel.shard{0,1,2,3}.jsonl --out parallel.jsonl
echo "GNU parallel, 4 shards: $(( $(date +%s) - start )) s"

bash "$here/examples/slurm/single-node.sh" >/dev/null
start=$(date +%s)
SHRINK="$shrink" sbatch --wait --array=0-3 --output="$work/slurm-%A_%a.log" \
  "$here/examples/slurm/sweep-array.sh" "$sweep" slurm --model "$model" -q
"$shrink" sweep --merge slurm.shard-*.jsonl --out slurm.jsonl
echo "Slurm job array, 4 tasks: $(( $(date +%s) - start )) s"

python3 - unsharded.jsonl parallel.jsonl slurm.jsonl <<'PY'
import json, sys
def load(path):
    rows = [json.loads(line) for line in open(path)]
    return {r["key"]: r for r in rows}
runs = {path: load(path) for path in sys.argv[1:]}
base = runs[sys.argv[1]]
for path, rows in runs.items():
    same = sum(rows[k]["status"] == "ok" and rows[k]["report"]["accuracy_after"] == base[k]["report"]["accuracy_after"]
               for k in base if k in rows)
    print(f"{path}: {len(rows)} points, {same} with bit-identical accuracy to the unsharded run")
    assert len(rows) == len(base) and same == len(base), path
print("sparsity  seed  accuracy  file bytes  modelled energy/inference  break-even inferences")
for r in sorted(base.values(), key=lambda r: r["index"]):
    rep = r["report"]
    be = rep["energy"]["break_even_inferences"]
    print(f'{r["point"]["sparsity"]:8.2f}  {r["point"]["seed"]:4d}  {100 * rep["accuracy_after"]:7.2f}%  '
          f'{rep["file_bytes_after"]:10d}  {rep["energy"]["per_inference_after"]["joules"] * 1e6:10.1f} uJ'
          f'  {"never" if be is None else f"{be:,.0f}"}')
PY
"$shrink" plot unsharded.jsonl --x file_bytes --y accuracy --color seed --log-x \
  --title "LeNet-300-100, magnitude pruning 0-95%, 1 epoch fine-tuning" -o pareto.svg
