#!/usr/bin/env bash
# The HTML report of a pruned LeNet-5 against its dense original, opened in headless Chromium
# (Debian's `chromium`, installed when missing): the browser's DOM must hold every section and
# every figure of the page (so it parsed the page as written), and its screenshot goes to
# docs/images/report-lenet5.png for people to see how it looks.
#   bash bench/report_in_chromium.sh [WORK_DIR=report-bench] [EPOCHS=3]
# The models in WORK_DIR are reused when there (delete it to train them again).
# Needs Fashion-MNIST (scripts/install-deps.sh) and root or sudo only to install chromium.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(realpath -m "${1:-report-bench}")"
epochs="${2:-3}"
bash "$here/scripts/build.sh" shrink_cli >/dev/null
shrink="$here/build/shrink"
if ! command -v chromium >/dev/null; then
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
mkdir -p "$work"
cd "$work"

[[ -f lenet5.shrk ]] || "$shrink" train --arch lenet5 --epochs "$epochs" --batch 64 --lr 0.01 --momentum 0.9 --seed 0 --threads 2 -q \
  -o lenet5.shrk
[[ -f lenet5-pruned.shrk ]] || "$shrink" compress lenet5.shrk --prune magnitude:0.9 --scope global --finetune-epochs 1 --threads 2 -q \
  -o lenet5-pruned.shrk >/dev/null
"$shrink" report lenet5-pruned.shrk --compare lenet5.shrk --threads 2 --title "LeNet-5 pruned 90% (magnitude, global)" \
  -o report.html

# Chromium runs as root only without its sandbox; --no-sandbox is for that case alone.
chrome=(chromium --headless --disable-gpu --hide-scrollbars)
[[ $(id -u) -eq 0 ]] && chrome+=(--no-sandbox)
"${chrome[@]}" --dump-dom "file://$work/report.html" 2>/dev/null > dom.html
python3 - dom.html <<'PY'
import re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
sections = re.findall(r'<h2 id="([^"]+)"', dom)
svgs, images = dom.count("<svg"), dom.count("<image")
print(f"Chromium's DOM: sections {', '.join(sections)}; {svgs} SVG figures, {images} embedded images")
assert sections == ["summary", "layers", "size", "classes", "figures"], sections
# Sparsity, bits, bytes and class-change bars, and the grid of 32 changed samples.
assert svgs == 5 and images == 32, (svgs, images)
PY
"${chrome[@]}" --window-size=1100,2650 --screenshot="$here/docs/images/report-lenet5.png" \
  "file://$work/report.html" 2>/dev/null
echo "screenshot: docs/images/report-lenet5.png ($(stat -c %s "$here/docs/images/report-lenet5.png") bytes)"
