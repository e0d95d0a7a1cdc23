#!/usr/bin/python3
"""Trains three small CNNs on Fashion-MNIST in PyTorch and exports them with torch.onnx.export,
the way a user would bring a model to shrink: BatchNorm folded into the convolutions by the
exporter (eval mode), opset 13, a symbolic batch axis.

  fashion_resnet     ResNet: 3x3 basic blocks, two of them strided with a 1x1 projection shortcut
  fashion_branches   Inception-style: a 1x1 and a 3x3 branch concatenated, twice
  fashion_separable  MobileNet-style: depthwise 3x3 + pointwise 1x1 pairs with ReLU6 (Clip)

Each lands in tests/fixtures/onnx/<name>/ as model.onnx, input.npy (the first 8 test images,
pixels scaled to [0, 1]) and output.npy (PyTorch's logits for them), so the ONNX fixture test
checks shrink's output against PyTorch's; the benchmarks (bench/cnn_side_by_side.sh) time the
same files against ONNX Runtime. Seeded; run with Debian's python3 (python3-torch, python3-onnx):

    /usr/bin/python3 scripts/make_cnn_fixtures.py [--epochs 2] [--train-images 60000] [--threads 2] [OUT_DIR]

The fixtures in the repository were made with --epochs 1 --train-images 12000 (the tests check
shrink against PyTorch's outputs and the benchmarks time them, neither needs a long training).
"""
import argparse
import gzip
import json
import os
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")


def read_idx(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        raw = f.read()
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(raw[3])]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def load(split):
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(f"{prefix}-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    y = read_idx(f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
    return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y)


def conv_bn(cin, cout, kernel, stride=1, groups=1):
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN + shortcut, ReLU; a strided 1x1 conv-BN projects the shortcut
    when the shape changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = conv_bn(cin, cout, 3, stride)
        self.conv2 = conv_bn(cout, cout, 3)
        self.shortcut = conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else nn.Identity()

    def forward(self, x):
        return F.relu(self.conv2(F.relu(self.conv1(x))) + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = conv_bn(1, 16, 3)
        self.layer1 = BasicBlock(16, 16, 1)
        self.layer2 = BasicBlock(16, 32, 2)
        self.layer3 = BasicBlock(32, 64, 2)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(F.relu(self.stem(x)))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class Branches(nn.Module):
    """One 1x1 branch and one 3x3 branch (behind a 1x1 reduction in the second block) side by
    side, concatenated along the channels."""

    def __init__(self):
        super().__init__()
        self.stem = conv_bn(1, 24, 3)
        self.a1 = conv_bn(24, 16, 1)
        self.a3 = conv_bn(24, 24, 3)
        self.b1 = conv_bn(40, 32, 1)
        self.b3_reduce = conv_bn(40, 24, 1)
        self.b3 = conv_bn(24, 32, 3)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.stem(x))
        x = torch.cat([F.relu(self.a1(x)), F.relu(self.a3(x))], 1)
        x = F.max_pool2d(x, 2)
        x = torch.cat([F.relu(self.b1(x)), F.relu(self.b3(F.relu(self.b3_reduce(x))))], 1)
        x = F.max_pool2d(x, 2)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class Separable(nn.Module):
    """A full 3x3 stem, then depthwise 3x3 + pointwise 1x1 pairs (each conv-BN-ReLU6)."""

    def __init__(self):
        super().__init__()
        layers = [conv_bn(1, 16, 3), nn.ReLU6()]
        cin = 16
        for cout, stride in [(32, 1), (64, 2), (64, 1), (128, 2), (128, 1)]:
            layers += [conv_bn(cin, cin, 3, stride, groups=cin), nn.ReLU6(),
                       conv_bn(cin, cout, 1), nn.ReLU6()]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, 10)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


MODELS = {"fashion_resnet": ResNet, "fashion_branches": Branches, "fashion_separable": Separable}


def train(model, x, y, epochs, generator):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=generator)
        for i in range(0, len(x), 128):
            idx = order[i:i + 128]
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()


@torch.no_grad()
def accuracy(model, x, y):
    model.eval()
    return sum((model(x[i:i + 500]).argmax(1) == y[i:i + 500]).sum().item()
               for i in range(0, len(x), 500)) / len(x)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out", nargs="?", default=os.path.join(ROOT, "tests", "fixtures", "onnx"))
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--train-images", type=int, default=60000, help="train on the first N images")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--only", choices=sorted(MODELS), help="make one fixture only")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    xtr, ytr = load("train")
    xtr, ytr = xtr[:a.train_images], ytr[:a.train_images]
    xte, yte = load("test")
    for name, build in MODELS.items():
        if a.only and name != a.only:
            continue
        torch.manual_seed(0)
        model = build()
        start = time.perf_counter()
        train(model, xtr, ytr, a.epochs, torch.Generator().manual_seed(0))
        seconds = time.perf_counter() - start
        model.eval()
        path = os.path.join(a.out, name)
        os.makedirs(path, exist_ok=True)
        x = xte[:8]
        with torch.no_grad():
            logits = model(x)
        # The default (eval) training mode folds each BatchNorm into the convolution before it.
        torch.onnx.export(model, x, os.path.join(path, "model.onnx"), opset_version=13,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
        onnx.checker.check_model(onnx.load(os.path.join(path, "model.onnx")))
        np.save(os.path.join(path, "input.npy"), x.numpy())
        np.save(os.path.join(path, "output.npy"), logits.numpy())
        macs = sum(m.weight.numel() * o.shape[2] * o.shape[3] for m, o in conv_outputs(model, x[:1]))
        print(json.dumps({"fixture": name, "epochs": a.epochs, "train_images": len(xtr),
                          "train_seconds": round(seconds, 1),
                          "pytorch_accuracy": accuracy(model, xte, yte),
                          "parameters": sum(t.numel() for t in model.parameters()),
                          "conv_macs_per_sample": macs}), flush=True)


def conv_outputs(model, x):
    """(conv module, its output) for one forward pass, to count the convolutions' MACs."""
    found = []
    hooks = [m.register_forward_hook(lambda m, i, o: found.append((m, o)))
             for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return found


if __name__ == "__main__":
    main()
