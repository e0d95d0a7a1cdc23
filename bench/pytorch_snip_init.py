"""SNIP at initialisation in PyTorch, under two initialisations: does the paper's variance
scaling cut off fewer hidden units than PyTorch's default (which shrink uses), and train better?

LeNet-300-100 on Fashion-MNIST (inputs scaled to [0, 1]); SNIP (Lee et al. 2019) keeps the 5%
of weights with the largest |g * w| over all layers, g the gradient of the mean cross-entropy on
1,024 training samples at initialisation; then 20 epochs of SGD (lr 0.05, momentum 0.9, cosine
decay per step, batch 64) with the masks in force, as shrink's bench/sparse_training.sh does.
Initialisations: "pytorch" (uniform +-1/sqrt(fan_in) weights and biases, the default of
nn.Linear and of shrink) and "variance-scaling" (the SNIP paper's: truncated normal with variance
1/fan_in, zero biases). Prints, per init and seed, the units of fc1 and fc2 left without input or
output and the test accuracy, dense and pruned.

    /usr/bin/python3 bench/pytorch_snip_init.py [EPOCHS=20] [SEEDS=0,1,2]
"""
import gzip
import math
import sys

import numpy as np
import torch
import torch.nn as nn

DATA = "/usr/share/datasets/fashion-mnist/"


def read_idx(path):
    with gzip.open(path) as f:
        data = f.read()
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(data[3])]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def load(prefix):
    x = read_idx(f"{DATA}{prefix}-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255
    return torch.tensor(x), torch.tensor(read_idx(f"{DATA}{prefix}-labels-idx1-ubyte.gz").astype(np.int64))


def lenet_300_100(init, seed):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))
    if init == "variance-scaling":
        for layer in model[::2]:
            std = 1.0 / math.sqrt(layer.in_features)
            # trunc_normal_ cuts at +-2 std; dividing by 0.8796 gives the variance 1/fan_in after
            # the cut, as TensorFlow's variance_scaling_initializer does
            nn.init.trunc_normal_(layer.weight, std=std / 0.8796, a=-2 * std / 0.8796, b=2 * std / 0.8796)
            nn.init.zeros_(layer.bias)
    return model


def snip_masks(model, x, y, density):
    weights = [layer.weight for layer in model[::2]]
    grads = torch.autograd.grad(nn.functional.cross_entropy(model(x), y), weights)
    scores = [(g * w).abs() for g, w in zip(grads, weights)]
    flat = torch.cat([s.flatten() for s in scores])
    threshold = torch.topk(flat, round(density * flat.numel())).values.min()
    return [(s >= threshold).float() for s in scores]


def cut_off(masks):
    """Units of each hidden layer without a kept input or a kept output weight."""
    return [int(((masks[i].sum(1) == 0) | (masks[i + 1].sum(0) == 0)).sum()) for i in range(len(masks) - 1)]


def train(model, masks, x, y, epochs, seed):
    weights = [layer.weight for layer in model[::2]]
    if masks:
        with torch.no_grad():
            for w, m in zip(weights, masks):
                w.mul_(m)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    steps = epochs * math.ceil(len(x) / 64)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), 64):
            idx = order[i:i + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            if masks:
                for w, m in zip(weights, masks):
                    w.grad.mul_(m)
            opt.step()
            sched.step()
            if masks:  # momentum must not regrow a pruned weight
                with torch.no_grad():
                    for w, m in zip(weights, masks):
                        w.mul_(m)


def accuracy(model, x, y):
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def main():
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    seeds = [int(s) for s in (sys.argv[2] if len(sys.argv) > 2 else "0,1,2").split(",")]
    torch.set_num_threads(1)
    x, y = load("train")
    xt, yt = load("t10k")
    print(f"torch {torch.__version__}, 1 thread, {epochs} epochs, seeds {seeds}")
    print("| init | seed | dense | SNIP 95% | vs dense | cut off (fc1+fc2) |")
    print("|---|---|---|---|---|---|")
    for init in ["pytorch", "variance-scaling"]:
        for seed in seeds:
            dense = lenet_300_100(init, seed)
            train(dense, None, x, y, epochs, seed)
            model = lenet_300_100(init, seed)
            idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(1000 + seed))[:1024]
            masks = snip_masks(model, x[idx], y[idx], 0.05)
            train(model, masks, x, y, epochs, seed)
            a, b = 100 * accuracy(dense, xt, yt), 100 * accuracy(model, xt, yt)
            print(f"| {init} | {seed} | {a:.2f}% | {b:.2f}% | {b - a:+.2f} | {'+'.join(map(str, cut_off(masks)))} |",
                  flush=True)


if __name__ == "__main__":
    main()
