#!/usr/bin/python3
"""The PyTorch side of bench/distill_accuracy.sh: the kd recipe of `shrink distill` run in
PyTorch with the same teacher, student, data and recipe.

The teacher is shrink's own LeNet-5, exported to ONNX (`shrink convert lenet5.shrk lenet5.onnx`);
its weights are loaded into the same network in PyTorch (Caffe's LeNet-5, as bench/peer_pytorch.py
builds it), and its test accuracy is printed so it can be checked against shrink's. The student is
an MLP 784-H-10 (`--student mlp --hidden H`, as `shrink distill --student mlp --hidden H`) or a
LeNet-5 of other widths (`--student lenet5 --channels C1,C2 --hidden H`, as `shrink distill
--student lenet5 --arch-options '{"channels": [C1, C2], "hidden": [H]}'`), with PyTorch's default
initialisation (the distribution shrink uses too), trained alone and with kd from the same initial
weights and batch order for each seed:

    loss = (1 - alpha) * CE(student, labels) + alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T))

(`kl_div(log_softmax(s / T), softmax(t / T), reduction="batchmean")`), SGD with momentum, a
constant learning rate, pixels in [0, 1] as shrink reads Fashion-MNIST. Prints one JSON object per
seed, then one with the means and sample standard deviations.

Usage: pytorch_distill.py TEACHER.onnx [--seeds 1,2,3] [--epochs 10] [--T 4] [--alpha 0.9]
                          [--lr 0.01] [--momentum 0.9] [--batch 64] [--student mlp|lenet5]
                          [--channels 20,50] [--hidden 64] [--threads 1]
"""
import argparse
import json
import os
import statistics
import sys

import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_pytorch as peer  # noqa: E402


def load_teacher(path):
    """shrink's lenet5 from its ONNX export: initializers conv1/conv2/fc1/fc2 .weight/.bias."""
    weights = {i.name: torch.from_numpy(onnx.numpy_helper.to_array(i).copy())
               for i in onnx.load(path).graph.initializer}
    model = peer.build("lenet5")
    layers = {"conv1": model[0], "conv2": model[2], "fc1": model[5], "fc2": model[7]}
    for name, layer in layers.items():
        for part in ("weight", "bias"):
            tensor = weights.pop(f"{name}.{part}")
            if tuple(tensor.shape) != tuple(getattr(layer, part).shape):
                raise SystemExit(f"error: {path}: {name}.{part} has shape {list(tensor.shape)}, "
                                 f"LeNet-5 needs {list(getattr(layer, part).shape)}")
            getattr(layer, part).data.copy_(tensor)
    if weights:
        raise SystemExit(f"error: {path} is not shrink's lenet5 (extra tensors {sorted(weights)})")
    model.eval()
    return model


def make_student(a):
    """The student of `shrink distill --student mlp --hidden H` or `--student lenet5` with
    {"channels": [C1, C2], "hidden": [H]}: Caffe's LeNet-5 layout, no ReLU after the convolutions."""
    if a.student == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, a.hidden), nn.ReLU(), nn.Linear(a.hidden, 10))
    c1, c2 = (int(c) for c in a.channels.split(","))
    return nn.Sequential(nn.Conv2d(1, c1, 5), nn.MaxPool2d(2), nn.Conv2d(c1, c2, 5), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(c2 * 16, a.hidden), nn.ReLU(), nn.Linear(a.hidden, 10))


def describe_student(a):
    if a.student == "mlp":
        return f"mlp 784-{a.hidden}-10"
    return f"lenet5 channels {a.channels} hidden {a.hidden}"


def train(student, x, y, teacher_logits, a, generator, alpha):
    opt = torch.optim.SGD(student.parameters(), lr=a.lr, momentum=a.momentum)
    T = a.T
    for _ in range(a.epochs):
        student.train()
        order = torch.randperm(len(x), generator=generator)
        for i in range(0, len(x), a.batch):
            idx = order[i:i + a.batch]
            opt.zero_grad()
            logits = student(x[idx])
            loss = F.cross_entropy(logits, y[idx])
            if alpha > 0:
                soft = F.kl_div(F.log_softmax(logits / T, dim=1), F.softmax(teacher_logits[idx] / T, dim=1),
                                reduction="batchmean")
                loss = (1 - alpha) * loss + alpha * T * T * soft
            loss.backward()
            opt.step()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("teacher")
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--T", type=float, default=4.0)
    p.add_argument("--alpha", type=float, default=0.9)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--student", choices=("mlp", "lenet5"), default="mlp")
    p.add_argument("--channels", default="20,50", help="the lenet5 student's convolution widths")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    xtr, ytr = peer.load("train")
    xte, yte = peer.load("test")
    teacher = load_teacher(a.teacher)
    teacher_accuracy, _ = peer.evaluate(teacher, xte, yte, 256)
    # The teacher runs in inference mode and the inputs are not augmented, so its logits for a
    # sample are the same at every step: computed once.
    with torch.no_grad():
        teacher_logits = torch.cat([teacher(xtr[i:i + 1000]) for i in range(0, len(xtr), 1000)])
    recipe = {"T": a.T, "alpha": a.alpha, "epochs": a.epochs, "lr": a.lr, "momentum": a.momentum,
              "batch": a.batch, "student": describe_student(a)}
    alone, kd = [], []
    for seed in [int(s) for s in a.seeds.split(",")]:
        torch.manual_seed(seed)
        initial = make_student(a)
        accuracies = []
        for alpha in (0.0, a.alpha):
            student = make_student(a)
            student.load_state_dict(initial.state_dict())
            train(student, xtr, ytr, teacher_logits, a, torch.Generator().manual_seed(seed), alpha)
            accuracies.append(peer.evaluate(student, xte, yte, 256)[0])
        alone.append(accuracies[0])
        kd.append(accuracies[1])
        print(json.dumps({"peer": "pytorch", "version": torch.__version__, "seed": seed,
                          "teacher_accuracy": teacher_accuracy, "alone": alone[-1], "kd": kd[-1],
                          **recipe}), flush=True)

    def spread(v):
        return statistics.stdev(v) if len(v) > 1 else 0.0
    print(json.dumps({"peer": "pytorch", "summary": True, "teacher_accuracy": teacher_accuracy,
                      "alone_mean": statistics.mean(alone), "alone_sd": spread(alone),
                      "kd_mean": statistics.mean(kd), "kd_sd": spread(kd), **recipe}), flush=True)


if __name__ == "__main__":
    main()
