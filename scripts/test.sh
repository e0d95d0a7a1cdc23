#!/usr/bin/env bash
# Installs dependencies, builds, and runs the whole test suite.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# ONNX Runtime for Node.js, best effort (only when npm is there): the ONNX Runtime round-trip
# test runs with it and skips without it.
bash "$here/scripts/install-deps.sh" --onnxruntime
bash "$here/scripts/build.sh"
cd "$here/build"
ctest --output-on-failure -j"$(nproc)"
