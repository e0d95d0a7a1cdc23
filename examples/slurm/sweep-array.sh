#!/bin/bash
# A sweep as a Slurm job array: each array task runs its shard (shrink reads
# SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_COUNT) into a file of its own.
#
#   sbatch --array=0-3 examples/slurm/sweep-array.sh examples/sweeps/prune-curve.json results [--model M.shrk]
#   # when the array is done:
#   shrink sweep --merge results.shard-*.jsonl --out results.jsonl
#
# A task that is cancelled or preempted and started again skips the points its file already
# holds. Any --array range works as long as it is contiguous (1-4 as well as 0-3). Arguments
# after the prefix go to shrink sweep (e.g. --model). SHRINK names the binary (default: shrink).
#SBATCH --job-name=shrink-sweep
#SBATCH --cpus-per-task=1
#SBATCH --output=shrink-sweep-%A_%a.log
set -euo pipefail
sweep=${1:?usage: sbatch --array=0-N sweep-array.sh SWEEP.json RESULTS_PREFIX [SWEEP FLAGS...]}
prefix=${2:-results}
shrink=${SHRINK:-shrink}
exec "$shrink" sweep "$sweep" --out "$prefix.shard-$SLURM_ARRAY_TASK_ID.jsonl" "${@:3}"
