#!/usr/bin/env bash
# Installs what shrink needs to build, test and run its demo, from Debian's packages.
# Skips apt entirely when everything is already there. Options:
#   --peers        also the benchmark peers: PyTorch with OpenBLAS, ONNX Python tools, and ONNX
#                  Runtime for Node.js (bench/package.json); fails without npm.
#   --onnxruntime  also ONNX Runtime for Node.js alone, best effort: a missing npm or a failed
#                  download is a warning, and the tests that need it skip
#                  (tests/io/onnx_runtime_roundtrip_test.cpp). scripts/test.sh passes it.
#   --fuzz         also clang with libFuzzer and its sanitizer runtimes, and LLVM's OpenMP
#                  (scripts/fuzz.sh passes it)
set -euo pipefail
mode="${1:-}"
case "$mode" in
  "" | --peers | --onnxruntime | --fuzz) ;;
  *) echo "error: unknown option '$mode' (expected --peers, --onnxruntime or --fuzz)" >&2; exit 2 ;;
esac
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

packages=(build-essential cmake pkg-config libeigen3-dev libcli11-dev libspdlog-dev
  nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev libopenblas-pthread-dev
  libonnx-dev libprotobuf-dev protobuf-compiler libdnnl-dev dataset-fashion-mnist
  libonnx-testdata)
if [[ "$mode" == "--peers" ]]; then
  packages+=(python3-torch libopenblas0-pthread python3-onnx python3-numpy time)
fi
if [[ "$mode" == "--fuzz" ]]; then
  packages+=(clang libclang-rt-14-dev libomp-dev)
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

# `npm ci` installs exactly bench/package-lock.json and never rewrites the tracked package
# files; --ignore-scripts skips the optional GPU download, the CPU library ships in the package.
# The timeout keeps a machine without network from hanging the test run.
install_onnxruntime() {
  [[ -d "$here/bench/node_modules/onnxruntime-node" ]] && return 0
  echo "installing: onnxruntime-node (npm, into bench/node_modules)" >&2
  (cd "$here/bench" && timeout 600 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
}

if [[ "$mode" == "--peers" ]]; then
  command -v npm >/dev/null || { echo "error: npm is needed for the ONNX Runtime peer (install Node.js)" >&2; exit 2; }
  install_onnxruntime
elif [[ "$mode" == "--onnxruntime" ]]; then
  if ! command -v npm >/dev/null; then
    echo "warning: npm not found, so ONNX Runtime is not installed and its round-trip test will skip (install Node.js)" >&2
  elif ! install_onnxruntime; then
    rm -rf "$here/bench/node_modules"  # a half-finished install would make the test fail, not skip
    echo "warning: npm could not install onnxruntime-node; its round-trip test will skip" >&2
  fi
fi
