#!/usr/bin/python3
"""The PyTorch side of bench/side_by_side.sh: the same models, data, recipe and thread count as
`shrink train` / `shrink eval`, timed the same way (the training loop only; inference over the
test set). Prints one JSON object per line.

Usage: peer_pytorch.py ARCH {train,infer,accuracy} [--threads 2] [--epochs N] [--batch B]
"""
import argparse
import gzip
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn

DATA = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")


def read_idx(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        raw = f.read()
    magic = int.from_bytes(raw[0:4], "big")
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(magic & 0xFF)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def load(split):
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(f"{prefix}-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    y = read_idx(f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
    return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y)


def build(arch):
    if arch == "lenet-300-100":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100),
                             nn.ReLU(), nn.Linear(100, 10))
    if arch == "lenet5":  # Caffe's LeNet: no ReLU after the convolutions
        return nn.Sequential(nn.Conv2d(1, 20, 5), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(800, 500), nn.ReLU(),
                             nn.Linear(500, 10))
    raise SystemExit(f"unknown arch {arch}")


def train_epoch(model, x, y, batch, opt, loss_fn, generator):
    model.train()
    order = torch.randperm(len(x), generator=generator)
    start = time.perf_counter()
    for i in range(0, len(x), batch):
        idx = order[i:i + batch]
        opt.zero_grad()
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
    return time.perf_counter() - start


@torch.no_grad()
def evaluate(model, x, y, batch):
    model.eval()
    correct = 0
    start = time.perf_counter()
    for i in range(0, len(x), batch):
        correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return correct / len(x), time.perf_counter() - start


def main():
    p = argparse.ArgumentParser()
    p.add_argument("arch")
    p.add_argument("mode", choices=["train", "infer", "accuracy"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    generator = torch.Generator().manual_seed(a.seed)
    model = build(a.arch)
    xtr, ytr = load("train")
    xte, yte = load("test")
    result = {"peer": "pytorch", "version": torch.__version__, "arch": a.arch, "mode": a.mode,
              "threads": a.threads, "batch": a.batch}
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    if a.mode == "train":
        seconds = train_epoch(model, xtr, ytr, a.batch, opt, loss_fn, generator)
        result["samples_per_s"] = len(xtr) / seconds
    elif a.mode == "infer":
        evaluate(model, xte[:1024], yte[:1024], a.batch)  # warm-up
        _, seconds = evaluate(model, xte, yte, a.batch)
        result["samples_per_s"] = len(xte) / seconds
    else:
        for _ in range(a.epochs):
            train_epoch(model, xtr, ytr, a.batch, opt, loss_fn, generator)
        result["epochs"] = a.epochs
        result["accuracy"], _ = evaluate(model, xte, yte, 256)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
