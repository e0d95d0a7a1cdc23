#!/usr/bin/python3
"""PyTorch's own eager-mode post-training int8 quantization of a model `shrink` trained, as the
peer row of the int8 table in docs/quantization.md: the fp32 weights are read from the .shrk
(safetensors-compatible), the network is PyTorch's copy of the built-in architecture
(peer_pytorch.py), then QuantStub/DeQuantStub, the engine's default qconfig (per-channel int8
weights, histogram-calibrated uint8 activations), calibration on 16 batches of 128 training
images (a seeded shuffle), convert, and accuracy on the Fashion-MNIST test set.

Usage: pytorch_int8_ptq.py MODEL.shrk ARCH [--engine onednn] [--batches 16] [--threads 2]
                          [--eval-batch 256]
Prints one JSON object, with the samples/s of the fp32 and the int8 model over the test set at
--eval-batch samples a batch (bench/int8_speed.sh times batch 256 and batch 1).
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_pytorch import build, evaluate, load  # noqa: E402


def read_shrk(path):
    """The F32 tensors of a .shrk file: an 8-byte header length, a JSON header, the data."""
    with open(path, "rb") as f:
        raw = f.read()
    length = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + length])
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if entry["dtype"] != "F32":
            raise SystemExit(f"{path}: {name} is stored as {entry['dtype']}; give an fp32 model")
        begin, end = entry["data_offsets"]
        data = np.frombuffer(raw, dtype="<f4", count=(end - begin) // 4, offset=8 + length + begin)
        tensors[name] = torch.from_numpy(data.reshape(entry["shape"]).copy())
    return tensors


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("arch")
    p.add_argument("--engine", default="onednn")
    p.add_argument("--batches", type=int, default=16)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-batch", type=int, default=256)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.backends.quantized.engine = a.engine

    net = build(a.arch)
    weights = read_shrk(a.model)
    # peer_pytorch's layers in order; shrink names them conv1, conv2, fc1, fc2, ...
    layers = [m for m in net if isinstance(m, (nn.Conv2d, nn.Linear))]
    names = sorted({k.rsplit(".", 1)[0] for k in weights},
                   key=lambda n: (not n.startswith("conv"), int("".join(c for c in n if c.isdigit()))))
    if len(names) != len(layers):
        raise SystemExit(f"{a.model}: {len(names)} layers for {a.arch}'s {len(layers)}")
    for layer, name in zip(layers, names):
        layer.weight.data.copy_(weights[name + ".weight"])
        layer.bias.data.copy_(weights[name + ".bias"])

    x_test, y_test = load("test")
    fp32_accuracy, fp32_seconds = evaluate(net, x_test, y_test, a.eval_batch)

    model = nn.Sequential(torch.ao.quantization.QuantStub(), *net, torch.ao.quantization.DeQuantStub())
    model.eval()
    model.qconfig = torch.ao.quantization.get_default_qconfig(a.engine)
    prepared = torch.ao.quantization.prepare(model)
    x_train, _ = load("train")
    order = torch.randperm(len(x_train), generator=torch.Generator().manual_seed(a.seed))
    with torch.no_grad():
        for b in range(a.batches):
            prepared(x_train[order[b * a.batch:(b + 1) * a.batch]])
    quantized = torch.ao.quantization.convert(prepared)
    int8_accuracy, seconds = evaluate(quantized, x_test, y_test, a.eval_batch)
    print(json.dumps({"peer": f"pytorch {torch.__version__} eager PTQ ({a.engine})", "model": a.model,
                      "arch": a.arch, "calibration_samples": a.batches * a.batch,
                      "fp32_accuracy": fp32_accuracy, "int8_accuracy": int8_accuracy,
                      "change_points": 100 * (int8_accuracy - fp32_accuracy),
                      "eval_batch": a.eval_batch, "fp32_samples_per_s": len(x_test) / fp32_seconds,
                      "int8_samples_per_s": len(x_test) / seconds}))


if __name__ == "__main__":
    main()
