#!/usr/bin/env bash
# The structured-pruning bars of issue 9 on Fashion-MNIST, end to end: trains resnet-small, and
# vgg-small at half its default widths (16 and 32 channels) with Network Slimming's penalty on
# the BatchNorm scales, on the first SAMPLES training images (default all 60,000; all 10,000
# test images measure accuracy); vgg-small's narrower layers fit a shared machine. Removes
# half of resnet-small's channels (global scope) and 60% of vgg-small's by |gamma|, fine-tunes,
# and prints accuracy, parameters, MACs and shrink's inference time before and after against
# each bar; then compares the six criteria at the same ratio on resnet-small, before and after
# one epoch of fine-tuning on the first 5,000 training images, measured on the first 2,000 test
# images (a cheaper run), as a Markdown table; and accuracy right after the cut with and without
# compensation and BatchNorm recalibration. Models and reports already in OUT are reused
# (delete a report to redo its run).
#
#   bash bench/channels_bars.sh [OUT=bench-out/channels] [SAMPLES=60000] [THREADS=2]
#
# RESNET_EPOCHS (default 5) sets resnet-small's training length, CRITERION (default l2) and
# FINETUNE_EPOCHS (default 3) its pruning; RECIPE=FILE prunes and fine-tunes it by that recipe
# instead (e.g. bench/recipes/resnet-channels-kd.json). STEPS=resnet_validation compares the
# recipes of bench/recipes/ on a validation split (below).
#
# Needs build/shrink and Debian's dataset-fashion-mnist. Every run is seeded.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench-out/channels}
samples=${2:-60000}
threads=${3:-2}
shrink=build/shrink

# The first TRAIN training images and the first TEST test images, as raw IDX files in DIR.
subset() {  # DIR TRAIN TEST
  mkdir -p "$1"
  python3 - "$@" <<'PY'
import gzip, os, sys
src, dst, n, tests = "/usr/share/datasets/fashion-mnist", sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for prefix, count in (("train", n), ("t10k", tests)):
    if os.path.exists(f"{dst}/{prefix}-labels-idx1-ubyte"):
        continue
    images = gzip.open(f"{src}/{prefix}-images-idx3-ubyte.gz").read()
    labels = gzip.open(f"{src}/{prefix}-labels-idx1-ubyte.gz").read()
    with open(f"{dst}/{prefix}-images-idx3-ubyte", "wb") as f:
        f.write(images[:4] + count.to_bytes(4, "big") + images[8:16] + images[16:16 + count * 784])
    with open(f"{dst}/{prefix}-labels-idx1-ubyte", "wb") as f:
        f.write(labels[:4] + count.to_bytes(4, "big") + labels[8:8 + count])
PY
}
subset "$out/data" "$samples" 10000
subset "$out/data-small" 5000 2000
data="fashion-mnist:$out/data"

train() {  # name arch epochs flags...
  local name=$1 arch=$2 epochs=$3
  shift 3
  [ -f "$out/$name.shrk" ] && return
  echo "shrink train --arch $arch --epochs $epochs $* -> $name.shrk" >&2
  "$shrink" train --arch "$arch" --data "$data" --epochs "$epochs" --lr 0.05 --schedule cosine \
    --seed 0 --threads "$threads" "$@" -q -o "$out/$name.shrk" --report "$out/$name-train.json" >/dev/null
}
compress() {  # name model flags... (DATA overrides the data set)
  local name=$1 model=$2
  shift 2
  [ -f "$out/$name.json" ] && return
  echo "shrink compress $model.shrk $* -> $name.shrk" >&2
  "$shrink" compress "$out/$model.shrk" "$@" --data "${DATA:-$data}" --seed 0 --threads "$threads" -q \
    -o "$out/$name.shrk" --report "$out/$name.json" >/dev/null
}

resnet_criterion=${CRITERION:-l2}
resnet_finetune=${FINETUNE_EPOCHS:-3}
resnet_run="resnet-$resnet_criterion-ft$resnet_finetune"
[ -n "${RECIPE:-}" ] && resnet_run="resnet-$(basename "$RECIPE" .json)"
resnet_bars() {
  train resnet resnet-small "${RESNET_EPOCHS:-5}"
  if [ -n "${RECIPE:-}" ]; then
    compress "$resnet_run" resnet --recipe "$RECIPE" --latency-batches 1 256
    return
  fi
  compress "$resnet_run" resnet --prune channels:0.5 --scope global \
    --criterion "$resnet_criterion" --finetune-epochs "$resnet_finetune" --finetune-lr 0.01 \
    --latency-batches 1 256
}
vgg_bars() {
  train vgg-ns vgg-small 2 --arch-options '{"channels": [16, 32]}' --sparsity-reg bn:1e-2
  compress vgg-ns-bn60-ft2 vgg-ns --prune channels:0.6 --criterion bn --finetune-epochs 2 \
    --finetune-lr 0.01 --latency-batches 256
}
criteria_table() {
  local DATA="fashion-mnist:$out/data-small"
  for criterion in l1 l2 fpgm bn apoz taylor; do
    compress "resnet-$criterion" resnet --prune channels:0.5 --criterion "$criterion" --no-latency
  done
  for criterion in l1 l2 fpgm bn apoz taylor; do
    compress "resnet-$criterion-ft1" resnet --prune channels:0.5 --criterion "$criterion" \
      --finetune-epochs 1 --finetune-lr 0.01 --no-latency
  done
}
# Right after the cut (no fine-tuning): what compensating the removed channels' means and
# re-estimating BatchNorm statistics each bring, for two criteria at two ratios.
compensation_table() {
  for criterion in l2 bn; do
    for ratio in 0.25 0.5; do
      compress "resnet-$criterion-$ratio-plain" resnet --criterion "$criterion" --no-latency \
        --prune "channels:$ratio,compensate=false,recalibrate_bn=false"
      compress "resnet-$criterion-$ratio-compensated" resnet --criterion "$criterion" --no-latency \
        --prune "channels:$ratio,recalibrate_bn=false"
      compress "resnet-$criterion-$ratio-recalibrated" resnet --criterion "$criterion" --no-latency \
        --prune "channels:$ratio"
    done
  done
}
# Choosing how to fine-tune without looking at the test split: each recipe of
# bench/recipes/resnet-*.json prunes the 5-epoch resnet-small and fine-tunes it on the first
# 55,000 training images; the last 5,000 (which the baseline saw, but fine-tuning does not) score
# it, and the test split is read once per run, afterwards (shrink eval).
resnet_validation() {
  train resnet resnet-small "${RESNET_EPOCHS:-5}"
  mkdir -p "$out/data-val"
  python3 - "$out/data-val" <<'PY'
import gzip, os, sys
src, dst = "/usr/share/datasets/fashion-mnist", sys.argv[1]
images = gzip.open(f"{src}/train-images-idx3-ubyte.gz").read()
labels = gzip.open(f"{src}/train-labels-idx1-ubyte.gz").read()
for prefix, first, last in (("train", 0, 55000), ("t10k", 55000, 60000)):
    if os.path.exists(f"{dst}/{prefix}-labels-idx1-ubyte"):
        continue
    with open(f"{dst}/{prefix}-images-idx3-ubyte", "wb") as f:
        f.write(images[:4] + (last - first).to_bytes(4, "big") + images[8:16] + images[16 + first * 784:16 + last * 784])
    with open(f"{dst}/{prefix}-labels-idx1-ubyte", "wb") as f:
        f.write(labels[:4] + (last - first).to_bytes(4, "big") + labels[8 + first:8 + last])
PY
  local recipe name
  for recipe in bench/recipes/resnet-*.json; do
    name="val-$(basename "$recipe" .json)"
    DATA="fashion-mnist:$out/data-val" compress "$name" resnet --recipe "$recipe" --no-latency
    [ -f "$out/$name-test.json" ] || "$shrink" eval "$out/$name.shrk" --data "$data" \
      --threads "$threads" -q --report "$out/$name-test.json" >/dev/null
  done
}
# STEPS picks some of the five (default the first four), e.g. STEPS=resnet_bars to run one.
for step in ${STEPS:-resnet_bars vgg_bars criteria_table compensation_table}; do "$step"; done

python3 - "$out" "$resnet_run" <<'PY'
import json, os, sys
out, resnet = sys.argv[1], sys.argv[2]
load = lambda name: json.load(open(f"{out}/{name}.json"))
have = lambda name: os.path.exists(f"{out}/{name}.json")
def line(name, max_loss, macs_bar=None, params_bar=None, speed_bar=None):
    r = load(name)
    loss = 100 * (r["accuracy_before"] - r["accuracy_after"])
    macs = r["macs_before"] / r["macs_after"]
    params = r["parameters_before"] / r["parameters_after"]
    print(f"{name}: accuracy {100 * r['accuracy_before']:.2f}% -> {100 * r['accuracy_after']:.2f}% "
          f"(loss {loss:.2f} points, bar <= {max_loss}: {'met' if loss <= max_loss else 'NOT met'})")
    print(f"  parameters {r['parameters_before']} -> {r['parameters_after']} ({params:.2f}x fewer"
          + (f", bar >= {params_bar}x: {'met' if params >= params_bar else 'NOT met'}" if params_bar else "") + ")")
    print(f"  MACs {r['macs_before']} -> {r['macs_after']} ({macs:.2f}x fewer"
          + (f", bar >= {macs_bar}x: {'met' if macs >= macs_bar else 'NOT met'}" if macs_bar else "") + ")")
    for l in r["latency"]:
        ok = "" if not speed_bar or l["batch"] != 256 else \
            f", bar >= {speed_bar}x: {'met' if l['speedup'] >= speed_bar else 'NOT met'}"
        print(f"  shrink batch {l['batch']}: {l['before']['median_ms']:.1f} ms -> "
              f"{l['after']['median_ms']:.1f} ms ({l['speedup']:.2f}x faster, medians of "
              f"{l['after']['repeats']}{ok})")
if have(resnet):
    line(resnet, 1.0, macs_bar=2.0, speed_bar=1.6)
if have("vgg-ns-bn60-ft2"):
    line("vgg-ns-bn60-ft2", 1.0, params_bar=4.0)
vals = sorted(f[4:-5] for f in os.listdir(out) if f.startswith("val-") and f.endswith(".json")
              and not f.endswith("-test.json") and os.path.exists(f"{out}/{f[:-5]}-test.json"))
if vals:
    print("\nresnet-small, 50% of the channels, fine-tuned on 55,000 training images "
          "(validation: the last 5,000; test: all 10,000)\n")
    print("| recipe | validation before -> after | test after | MACs after |")
    print("|---|---|---|---|")
    for v in vals:
        r, t = load(f"val-{v}"), load(f"val-{v}-test")
        print(f"| `bench/recipes/{v}.json` | {100 * r['accuracy_before']:.2f}% -> "
              f"{100 * r['accuracy_after']:.2f}% | {100 * t['accuracy']:.2f}% | "
              f"{r['macs_after'] / 1e6:.2f} M |")
if have("resnet-bn-0.5-recalibrated"):
    print("\nresnet-small right after the cut (no fine-tuning), global scope; unpruned "
          f"{100 * load('resnet-bn-0.5-recalibrated')['accuracy_before']:.2f}%\n")
    print("| criterion | ratio | dropped | + compensation | + compensation + BN recalibration |")
    print("|---|---|---|---|---|")
    for c in ["l2", "bn"]:
        for ratio in ["0.25", "0.5"]:
            acc = [100 * load(f"resnet-{c}-{ratio}-{v}")["accuracy_after"]
                   for v in ("plain", "compensated", "recalibrated")]
            print(f"| `{c}` | {ratio} | {acc[0]:.2f}% | {acc[1]:.2f}% | {acc[2]:.2f}% |")
if not have("resnet-taylor-ft1"):
    sys.exit()
base = load("resnet-l1")["accuracy_before"]
print(f"\nresnet-small, 50% of the channels, global scope; unpruned {100 * base:.2f}% "
      "(first 2,000 test images)\n")
print("| criterion | MACs after | accuracy after pruning | after 1 epoch of fine-tuning |")
print("|---|---|---|---|")
for c in ["l1", "l2", "fpgm", "bn", "apoz", "taylor"]:
    one, ft = load(f"resnet-{c}"), load(f"resnet-{c}-ft1")
    print(f"| `{c}` | {one['macs_after'] / 1e6:.2f} M | {100 * one['accuracy_after']:.2f}% | "
          f"{100 * ft['accuracy_after']:.2f}% |")
PY
