#!/usr/bin/env bash
# Configures and builds shrink (Release, -O3 -march=native) into build/.
#   bash scripts/build.sh             everything: library, CLI, tests, benchmarks, examples
#   bash scripts/build.sh TARGET...   only those targets (the demo builds shrink_cli alone)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$here/scripts/install-deps.sh"
cmake -S "$here" -B "$here/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
targets=()
for target in "$@"; do targets+=(--target "$target"); done
cmake --build "$here/build" -j"$(nproc)" "${targets[@]}"
