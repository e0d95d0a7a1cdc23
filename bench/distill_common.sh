# Shared by bench/distill_{accuracy,losses,recovery}.sh (source it after `set -euo pipefail`):
# the first two arguments, the shrink binary, the work directory, the LeNet-5 teachers and the
# helpers that read reports and summarise seeds.
#   SEEDS ($1, default "1 2 3") and THREADS ($2, default 2): the scripts' first two arguments.
# Environment: SHRINK (default build/shrink), TEACHER_EPOCHS (10), WORK (a directory to keep the
# models and reports in, and to reuse the teachers and finished runs from; default a temporary
# one, removed on exit).
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seeds="${1:-1 2 3}"
threads="${2:-2}"
shrink="${SHRINK:-$here/build/shrink}"
teacher_epochs="${TEACHER_EPOCHS:-10}"
[[ -x $shrink ]] || { echo "error: $shrink is not built (cmake --build build --target shrink_cli)" >&2; exit 2; }
if [[ -n ${WORK:-} ]]; then work="$WORK"; mkdir -p "$work"; else work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT; fi

# field FILE KEY...: one value of a JSON report (list indices as numbers).
field() { python3 -c 'import json, sys; r = json.load(open(sys.argv[1]))
for k in sys.argv[2:]: r = r[int(k)] if isinstance(r, list) else r[k]
print(r)' "$@"; }
# stats ACCURACY...: "mean ± sample standard deviation" in percent of accuracies in [0, 1]; a
# value that is not a number (a run that stopped) is left out and the count of seeds given.
stats() { python3 -c 'import statistics as s, sys
def number(x):
    try: return float(x)
    except ValueError: return None
v = [100 * number(x) for x in sys.argv[1:] if number(x) is not None]
if not v: print("stopped"); sys.exit()
out = f"{s.mean(v):.2f} ± {s.stdev(v) if len(v) > 1 else 0:.2f}"
print(out if len(v) == len(sys.argv) - 1 else f"{out} ({len(v)} of {len(sys.argv) - 1} seeds)")' "$@"; }
# mean_gain A... B...: the mean of B_i − A_i in points, for two equally long lists of accuracies,
# over the pairs where both are numbers.
mean_gain() { python3 -c 'import sys
def number(x):
    try: return float(x)
    except ValueError: return None
n = len(sys.argv) // 2
pairs = [(number(x), number(y)) for x, y in zip(sys.argv[1:n + 1], sys.argv[n + 1:])]
pairs = [(x, y) for x, y in pairs if x is not None and y is not None]
if not pairs: print(""); sys.exit()
out = f"{100 * sum(y - x for x, y in pairs) / len(pairs):+.2f}"
print(out if len(pairs) == n else f"{out} ({len(pairs)} of {n} seeds)")' "$@"; }

# teacher SCHEDULE: trains shrink's lenet5 for TEACHER_EPOCHS at the constant or cosine rate
# (seed 0) into $work/lenet5-SCHEDULE.shrk unless it is there, and prints its test accuracy.
teacher() {
  local schedule=$1 model="$work/lenet5-$1.shrk" report="$work/teacher-$1.json"
  if [[ ! -f $model ]]; then
    "$shrink" train --arch lenet5 --epochs "$teacher_epochs" --schedule "$schedule" --seed 0 \
      --threads "$threads" -q -o "$model" --report "$report" >/dev/null
  fi
  echo "teacher lenet5 ($teacher_epochs epochs, $schedule rate, seed 0): test accuracy $(field "$report" accuracy)"
}
