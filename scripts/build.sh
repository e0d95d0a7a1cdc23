#!/usr/bin/env bash
# Configures and builds shrink (Release, -O3 -march=native) into build/.
#   bash scripts/build.sh             everything: library, CLI, tests, benchmarks, examples
#   bash scripts/build.sh TARGET...   only those targets (the demo builds shrink_cli alone)
# SHRINK_ISA=avx2 (or avx512, portable) in the environment configures that instruction set
# instead of this machine's (see CMakeLists.txt); the build directory remembers it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$here/scripts/install-deps.sh"
cmake -S "$here" -B "$here/build" -DCMAKE_BUILD_TYPE=Release ${SHRINK_ISA:+-DSHRINK_ISA=$SHRINK_ISA} >/dev/null
targets=()
for target in "$@"; do targets+=(--target "$target"); done
cmake --build "$here/build" -j"$(nproc)" "${targets[@]}"
