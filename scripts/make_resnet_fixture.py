#!/usr/bin/python3
"""Trains a torchvision-style ResNet with a projection shortcut on Fashion-MNIST in PyTorch and
exports it with torch.onnx.export to tests/fixtures/onnx/resnet_projection/ (model.onnx, and
input.npy/output.npy: three test images and PyTorch's logits for them). Structured pruning is
checked on it: a trained model, exported the way users export theirs, with the two residual
patterns (identity and 1x1-conv projection) that tie channels together.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 scripts/make_resnet_fixture.py [EPOCHS=1] [TRAIN_SAMPLES=20000] [OUT_DIR]

Seeded; trains on the first TRAIN_SAMPLES training images (a fixture needs trained weights,
not the best accuracy) and prints the PyTorch test accuracy as JSON.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import peer_pytorch as peer  # noqa: E402  (Fashion-MNIST reader, training epoch, evaluation)


class BasicBlock(nn.Module):
    """torchvision's BasicBlock: conv-bn-relu-conv-bn + shortcut, then relu."""

    def __init__(self, inplanes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)


class ResNet(nn.Module):
    def __init__(self, width=16, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.layer1 = BasicBlock(width, width, 1)
        self.layer2 = BasicBlock(width, 2 * width, 2)
        self.fc = nn.Linear(2 * width, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer2(self.layer1(x))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


def main():
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    samples = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    out = sys.argv[3] if len(sys.argv) > 3 else os.path.join(ROOT, "tests", "fixtures", "onnx",
                                                              "resnet_projection")
    torch.set_num_threads(2)
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    model = ResNet()
    xtr, ytr = peer.load("train")
    xtr, ytr = xtr[:samples], ytr[:samples]
    xte, yte = peer.load("test")
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss = nn.CrossEntropyLoss()
    for _ in range(epochs):
        peer.train_epoch(model, xtr, ytr, 64, opt, loss, generator)
    accuracy, _ = peer.evaluate(model, xte, yte, 256)
    model.eval()
    os.makedirs(out, exist_ok=True)
    x = xte[:3]
    with torch.no_grad():
        y = model(x)
    torch.onnx.export(model, x, os.path.join(out, "model.onnx"), opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True)
    np.save(os.path.join(out, "input.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(out, "output.npy"), y.numpy().astype(np.float32))
    print(json.dumps({"epochs": epochs, "train_samples": len(xtr), "pytorch_accuracy": accuracy}))


if __name__ == "__main__":
    main()
