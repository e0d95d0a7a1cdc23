#!/usr/bin/python3
"""How full the blocks of a pruned model's 2-D weights are: for each block shape, the fraction of
blocks holding a non-zero and how many multiply-adds a blocked sparse format would do per
non-zero (CSR does 1). The measurement behind the choice of CSR for the sparse Linear kernels
(docs/benchmarks.md).
    /usr/bin/python3 bench/sparse_block_fill.py MODEL.onnx   (shrink convert MODEL.shrk MODEL.onnx)
"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper

if len(sys.argv) != 2:
    sys.exit("error: give one ONNX model")
for tensor in onnx.load(sys.argv[1]).graph.initializer:
    w = numpy_helper.to_array(tensor)
    if w.ndim != 2:
        continue
    nonzero = w != 0
    line = f"{tensor.name:<14} {str(w.shape):<11} density {nonzero.mean():.3f}"
    for rows, cols in [(1, 4), (4, 1), (1, 16), (4, 4)]:
        r, c = w.shape[0] // rows * rows, w.shape[1] // cols * cols
        blocks = nonzero[:r, :c].reshape(r // rows, rows, c // cols, cols).any(axis=(1, 3))
        work = blocks.sum() * rows * cols / max(1, nonzero[:r, :c].sum())
        line += f"  {rows}x{cols}: {blocks.mean():.2f} full, {work:.2f}x"
    print(line)
