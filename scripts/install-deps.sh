#!/usr/bin/env bash
# Installs what shrink needs to build, test and run its demo, from Debian's packages.
# Skips apt entirely when everything is already there. Pass --peers to also install the
# benchmark peers (PyTorch with OpenBLAS, ONNX Python tools, ONNX Runtime for Node.js).
set -euo pipefail

packages=(build-essential cmake pkg-config libeigen3-dev libcli11-dev libspdlog-dev
  nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev
  libonnx-dev libprotobuf-dev protobuf-compiler dataset-fashion-mnist)
if [[ "${1:-}" == "--peers" ]]; then
  packages+=(python3-torch libopenblas0-pthread python3-onnx python3-numpy time)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [[ "${1:-}" == "--peers" ]]; then
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  command -v npm >/dev/null || { echo "error: npm is needed for the ONNX Runtime peer (install Node.js)" >&2; exit 2; }
  if [[ ! -d "$here/bench/node_modules/onnxruntime-node" ]]; then
    (cd "$here/bench" && npm install --ignore-scripts --no-audit --no-fund onnxruntime-node >/dev/null)
  fi
fi
