#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang with AddressSanitizer and UndefinedBehaviorSanitizer)
# in build-fuzz/ and runs each for SECONDS (default 60) or SHRINK_FUZZ_RUNS executions (default
# 10^6), whichever comes first, one after the other:
#   scripts/fuzz.sh [SECONDS] [TARGET...]
# Each target starts from its seeds (the test fixtures, fuzz_make_seeds' output and
# tests/fixtures/fuzz/<target>/) and keeps what it learns in build-fuzz/corpus/<target>/, so a
# second run goes deeper. A finding lands in build-fuzz/findings/<target>/; copy it into
# tests/fixtures/fuzz/<target>/ once fixed, where ctest replays it (docs/testing.md).
# Exits 1 when any target found something.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-60}"
[[ "$seconds" =~ ^[0-9]+$ && "$seconds" -gt 0 ]] || {
  echo "error: SECONDS must be a positive whole number, got '$seconds'" >&2; exit 2; }
shift || true
runs_limit="${SHRINK_FUZZ_RUNS:-1000000}"
[[ "$runs_limit" =~ ^[0-9]+$ && "$runs_limit" -gt 0 ]] || {
  echo "error: SHRINK_FUZZ_RUNS must be a positive whole number, got '$runs_limit'" >&2; exit 2; }
build="$here/build-fuzz"

bash "$here/scripts/install-deps.sh" --fuzz
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$here" -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DSHRINK_FUZZ=ON -DSHRINK_BUILD_TESTS=OFF \
  -DSHRINK_BUILD_BENCH=OFF -DSHRINK_BUILD_EXAMPLES=OFF "${launcher[@]}" >/dev/null
cmake --build "$build" -j2

targets=("$@")
if ((${#targets[@]} == 0)); then
  for binary in "$build"/fuzz/fuzz_*; do
    name="${binary##*/fuzz_}"
    [[ "$name" == make_seeds ]] || targets+=("$name")
  done
fi

export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:allocator_may_return_null=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export LSAN_OPTIONS="suppressions=$here/scripts/sanitize.supp:print_suppressions=0"
export OMP_NUM_THREADS=1  # one thread: the fuzzer measures coverage, not speed
rm -rf "$build/fuzz-seeds"/*/
"$build/fuzz/fuzz_make_seeds" "$here" "$build/fuzz-seeds" >/dev/null

summary=()
found=0
for name in "${targets[@]}"; do
  binary="$build/fuzz/fuzz_$name"
  [[ -x "$binary" ]] || { echo "error: no fuzz target '$name'" >&2; exit 2; }
  # libFuzzer takes corpus directories: the seeds listed at configure time, gathered into one.
  seeds="$build/seeds/$name"
  rm -rf "$seeds" && mkdir -p "$seeds" "$build/corpus/$name" "$build/findings/$name"
  while IFS= read -r entry; do
    [[ -z "$entry" ]] && continue
    if [[ -d "$entry" ]]; then
      find "$entry" -maxdepth 1 -type f -exec cp -t "$seeds" {} +
    elif [[ -f "$entry" ]]; then
      cp "$entry" "$seeds/$(echo "$entry" | md5sum | cut -c1-12)-${entry##*/}"
    fi
  done <"$build/fuzz-seeds/$name.list"
  log="$build/findings/$name/log.txt"
  echo "fuzzing $name for ${seconds}s ($(ls "$seeds" | wc -l) seeds)" >&2
  status=0
  "$binary" -max_total_time="$seconds" -runs="$runs_limit" -timeout=20 -rss_limit_mb=2560 -print_final_stats=1 \
    -artifact_prefix="$build/findings/$name/" "$build/corpus/$name" "$seeds" >"$log" 2>&1 ||
    status=$?
  runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
  rate="$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
  corpus="$(ls "$build/corpus/$name" | wc -l)"
  result="no finding"
  if ((status != 0)); then
    found=1
    result="FINDING (exit $status): $(grep -m1 -E 'ERROR|runtime error|deadly signal|Timeout|out-of-memory' "$log" || true)"
  fi
  summary+=("$(printf '%-14s %12s runs %8s/s  corpus %6s  %s' "$name" "$runs" "$rate" "$corpus" "$result")")
done
printf '%s\n' "${summary[@]}"
exit "$found"
