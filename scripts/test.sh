#!/usr/bin/env bash
# Installs dependencies, builds, and runs the whole test suite.
#   scripts/test.sh              Release build in build/
#   scripts/test.sh --sanitize   the same suite built with AddressSanitizer and
#                                UndefinedBehaviorSanitizer in build-sanitize/ (-O1, with
#                                assertions: Eigen's bounds checks are on); any sanitizer report
#                                fails the test it happens in (docs/testing.md)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mode="${1:-}"
case "$mode" in
  "" | --sanitize) ;;
  *) echo "error: unknown option '$mode' (expected --sanitize)" >&2; exit 2 ;;
esac
# ONNX Runtime for Node.js, best effort (only when npm is there): the ONNX Runtime round-trip
# test runs with it and skips without it.
bash "$here/scripts/install-deps.sh" --onnxruntime
jobs="$(nproc)"
if [[ "$mode" == "--sanitize" ]]; then
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S "$here" -B "$here/build-sanitize" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DSHRINK_SANITIZE=ON -DSHRINK_BUILD_BENCH=OFF \
    "${launcher[@]}" >/dev/null
  cmake --build "$here/build-sanitize" -j"$jobs"
  # halt_on_error: a report ends the process, so the test fails instead of printing and passing.
  # Leak reports keep only shrink's own leaks: scripts/sanitize.supp explains each suppression.
  export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
  export LSAN_OPTIONS="suppressions=$here/scripts/sanitize.supp:print_suppressions=0"
  cd "$here/build-sanitize"
else
  bash "$here/scripts/build.sh"
  cd "$here/build"
fi
ctest --output-on-failure -j"$jobs"
