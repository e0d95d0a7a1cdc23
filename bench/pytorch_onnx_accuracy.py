#!/usr/bin/python3
"""Trains ARCH in PyTorch (same recipe as `shrink train`) for EPOCHS, prints its Fashion-MNIST test
accuracy and exports it to OUT.onnx, so `shrink eval OUT.onnx` can be compared with it.
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/pytorch_onnx_accuracy.py ARCH EPOCHS OUT.onnx"""
import sys, json, torch
import os
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_pytorch as p
arch, epochs = sys.argv[1], int(sys.argv[2])
torch.set_num_threads(2); torch.manual_seed(0)
g = torch.Generator().manual_seed(0)
m = p.build(arch); xtr, ytr = p.load("train"); xte, yte = p.load("test")
opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9); lf = torch.nn.CrossEntropyLoss()
for _ in range(epochs): p.train_epoch(m, xtr, ytr, 64, opt, lf, g)
acc, _ = p.evaluate(m, xte, yte, 256)
m.eval()
torch.onnx.export(m, xte[:1], sys.argv[3], opset_version=13, input_names=["input"], output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
print(json.dumps({"arch": arch, "epochs": epochs, "pytorch_accuracy": acc}))
