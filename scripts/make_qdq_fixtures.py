#!/usr/bin/python3
"""Quantizes an fp32 ONNX model into a QDQ ONNX file laid out the way ONNX Runtime's
quantize_static (QuantFormat.QDQ) writes one, so shrink's import of QDQ files made by other tools
is tested on such files without ONNX Runtime's Python package (Debian has none):

  - every activation a Conv, Gemm or MatMul reads gets QuantizeLinear -> DequantizeLinear, uint8
    asymmetric per tensor, its range the min/max over the calibration data widened to hold 0
    (ORT's MinMax calibration): scale = (max - min) / 255, zero point = round(-min / scale);
    ORT's names: T_QuantizeLinear, T_quantized, T_DequantizeLinear_Output, T_scale, T_zero_point;
  - MaxPool, Reshape and Flatten of a quantized activation read its DequantizeLinear and their
    output is quantized again with the same scale and zero point (ORT's QDQDirect8BitOp);
  - a Relu that alone reads a layer's output is removed, the layer writing the Relu's output,
    whose range starts at 0 (ORT's QDQRemovableActivation);
  - every weight becomes an int8 initializer W_quantized behind a DequantizeLinear, symmetric
    (zero point 0, codes -127..127, scale = max|w| / 127, ORT's WeightSymmetric default), per
    output channel (axis 0 of a Conv weight or of Gemm's transB=1 B; axis 1 of a transB=0 B or of
    MatMul's B) or, with --per-tensor, one scale for the tensor;
  - every bias becomes int32 codes with scale input scale x weight scale, zero point 0.

--reduce-range does what ORT's reduce_range does: 7-bit ranges, weights -64..64 (scale = max|w| / 64)
and activations 0..127, for CPUs without VNNI. --weights uint8 writes asymmetric uint8 weights instead (ORT's weight_type=QUInt8), which the int8
kernels cannot take: shrink keeps them in fp32 and says so. Rounding is half to even (numpy's) and
the arithmetic float32, as ORT's quantizer does. Ranges come from running the fp32 graph in NumPy
(the few operators LeNet-style models use).

  /usr/bin/python3 scripts/make_qdq_fixtures.py                 # the fixtures in tests/fixtures/onnx_qdq
  /usr/bin/python3 scripts/make_qdq_fixtures.py SRC.onnx OUT.onnx [--per-tensor] [--weights int8|uint8] [--reduce-range]
      [--fashion-mnist N]   # calibrate on the first N Fashion-MNIST training images (pixels / 255)
"""
import argparse
import gzip
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
LAYERS = ("Conv", "Gemm", "MatMul")
SAME_CODES = ("MaxPool", "Reshape", "Flatten")  # ORT's QDQDirect8BitOp among LeNet's operators


def removable_activations(graph, inits):
    """The nodes with each Relu that alone reads a layer's output removed, the layer writing the
    Relu's output instead: ORT's QDQRemovableActivation (the output's uint8 range, from 0,
    clips what the Relu would)."""
    readers = {}
    for node in graph.node:
        for name in node.input:
            readers[name] = readers.get(name, 0) + 1
    producer = {n.output[0]: n for n in graph.node}
    renamed, dropped = {}, set()
    for node in graph.node:
        p = producer.get(node.input[0]) if node.op_type == "Relu" else None
        if p is not None and p.op_type in LAYERS and p.input[1] in inits and readers[node.input[0]] == 1:
            renamed[p.output[0]] = node.output[0]
            dropped.add(node.output[0])
    out = []
    for node in graph.node:
        if node.op_type == "Relu" and node.output[0] in dropped:
            continue
        if node.output[0] in renamed:
            copy = onnx.NodeProto()
            copy.CopyFrom(node)
            copy.output[0] = renamed[node.output[0]]
            node = copy
        out.append(node)
    return out


# --- the fp32 graph in NumPy, for the calibration ranges -------------------------------------

def attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def windows(x, kh, kw, stride, pads):
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    v = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))
    return v[:, :, ::stride[0], ::stride[1]]  # [N, C, OH, OW, kh, kw]


def run_node(node, v):
    x = [v[i] if i else None for i in node.input]
    op = node.op_type
    if op == "Constant":
        return numpy_helper.to_array(attr(node, "value", None))
    if op == "Shape":
        return np.array(x[0].shape, dtype=np.int64)
    if op == "Gather":
        return np.take(x[0], x[1], axis=attr(node, "axis", 0))
    if op == "Unsqueeze":
        return np.expand_dims(x[0], tuple(int(a) for a in x[1]))
    if op == "Concat":
        return np.concatenate(x, axis=attr(node, "axis", 0))
    if op == "Reshape":
        shape = [x[0].shape[i] if d == 0 else d for i, d in enumerate(x[1])]
        return x[0].reshape(shape)
    if op == "Flatten":
        return x[0].reshape(int(np.prod(x[0].shape[:attr(node, "axis", 1)])), -1)
    if op in ("Dropout", "Identity"):
        return x[0]
    if op == "Relu":
        return np.maximum(x[0], 0)
    if op == "Tanh":
        return np.tanh(x[0])
    if op == "Add":
        return x[0] + x[1]
    if op == "MatMul":
        return x[0] @ x[1]
    if op == "Gemm":
        b = x[1].T if attr(node, "transB", 0) else x[1]
        y = attr(node, "alpha", 1.0) * (x[0] @ b)
        return y + attr(node, "beta", 1.0) * x[2] if len(x) > 2 and x[2] is not None else y
    if op == "MaxPool":
        k = attr(node, "kernel_shape", None)
        w = windows(x[0], k[0], k[1], attr(node, "strides", [1, 1]), attr(node, "pads", [0] * 4))
        return w.max(axis=(4, 5))
    if op == "Conv":
        assert attr(node, "group", 1) == 1 and attr(node, "dilations", [1, 1]) == [1, 1]
        w = x[1]
        win = windows(x[0], w.shape[2], w.shape[3], attr(node, "strides", [1, 1]), attr(node, "pads", [0] * 4))
        y = np.einsum("nchwij,ocij->nohw", win, w, optimize=True)
        return y + x[2].reshape(1, -1, 1, 1) if len(x) > 2 else y
    raise SystemExit(f"make_qdq_fixtures.py: operator {op} is not evaluated here")


def activation_ranges(model, batch):
    """min/max of every tensor over `batch`, widened to hold 0."""
    values = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    values[model.graph.input[0].name] = batch
    ranges = {model.graph.input[0].name: batch}
    for node in model.graph.node:
        values[node.output[0]] = run_node(node, values)
        ranges[node.output[0]] = values[node.output[0]]
    return {k: (min(float(t.min()), 0.0), max(float(t.max()), 0.0)) for k, t in ranges.items()
            if np.issubdtype(np.asarray(t).dtype, np.floating)}


# --- quantization as ORT's quantizer does it -----------------------------------------------------

def u8_params(lo, hi, reduce_range=False):
    top = 127 if reduce_range else 255
    scale = np.float32((hi - lo) / float(top))
    if scale == 0:
        return np.float32(1.0), np.uint8(0)
    return scale, np.uint8(np.clip(np.round(-lo / scale), 0, top))


def weight_codes(w, axis, weights, reduce_range=False):
    """(codes, scales, zero points) of `w`, per index along `axis` (None: per tensor)."""
    moved = w if axis is None else np.moveaxis(w, axis, 0)
    flat = moved.reshape(1 if axis is None else moved.shape[0], -1).astype(np.float32)
    if weights == "int8":
        absmax = np.abs(flat).max(axis=1)
        top = 64 if reduce_range else 127
        scales = (2 * absmax / np.float32(2 * top)).astype(np.float32)
        scales[scales == 0] = 1
        zeros = np.zeros(len(scales), dtype=np.int8)
        codes = np.clip(np.round(flat / scales[:, None]), -top, top).astype(np.int8)
    else:
        lo, hi = np.minimum(flat.min(axis=1), 0), np.maximum(flat.max(axis=1), 0)
        scales = ((hi - lo) / np.float32(255)).astype(np.float32)
        scales[scales == 0] = 1
        zeros = np.clip(np.round(-lo / scales), 0, 255).astype(np.uint8)
        codes = np.clip(np.round(flat / scales[:, None]) + zeros[:, None], 0, 255).astype(np.uint8)
    codes = codes.reshape(moved.shape)
    if axis is not None:
        codes = np.moveaxis(codes, 0, axis)
    return codes, scales, zeros


def quantize(model, batch, per_tensor=False, weights="int8", reduce_range=False):
    ranges = activation_ranges(model, batch)
    inits = {t.name: t for t in model.graph.initializer}
    graph = model.graph
    nodes, new_inits, act_scale, act_params, done = [], [], {}, {}, {}

    def activation(name, same_as=None):
        if name in done:
            return done[name]
        scale, zero = act_params[same_as] if same_as else u8_params(*ranges[name], reduce_range)
        act_scale[name] = scale
        act_params[name] = (scale, zero)
        new_inits.append(numpy_helper.from_array(np.array(scale, dtype=np.float32), name + "_scale"))
        new_inits.append(numpy_helper.from_array(np.array(zero, dtype=np.uint8), name + "_zero_point"))
        nodes.append(helper.make_node("QuantizeLinear", [name, name + "_scale", name + "_zero_point"],
                                      [name + "_quantized"], name + "_QuantizeLinear"))
        nodes.append(helper.make_node("DequantizeLinear", [name + "_quantized", name + "_scale", name + "_zero_point"],
                                      [name + "_DequantizeLinear_Output"], name + "_DequantizeLinear"))
        done[name] = name + "_DequantizeLinear_Output"
        return done[name]

    def dequantized(name, codes, scales, zeros, axis):
        shape = [] if axis is None else [len(scales)]
        new_inits.append(numpy_helper.from_array(codes, name + "_quantized"))
        new_inits.append(numpy_helper.from_array(scales.reshape(shape), name + "_scale"))
        new_inits.append(numpy_helper.from_array(zeros.reshape(shape), name + "_zero_point"))
        extra = {} if axis is None else {"axis": axis}
        nodes.append(helper.make_node("DequantizeLinear", [name + "_quantized", name + "_scale", name + "_zero_point"],
                                      [name + "_DequantizeLinear_Output"], name + "_DequantizeLinear", **extra))
        return name + "_DequantizeLinear_Output"

    used = set()
    for node in removable_activations(graph, inits):
        if node.op_type in SAME_CODES and node.input[0] in done:
            # ORT's QDQDirect8BitOp: the output takes the input's scale and zero point.
            ins = list(node.input)
            ins[0] = done[node.input[0]]
            rewritten = onnx.NodeProto()
            rewritten.CopyFrom(node)
            del rewritten.input[:]
            rewritten.input.extend(ins)
            nodes.append(rewritten)
            activation(node.output[0], same_as=node.input[0])
            continue
        if node.op_type in LAYERS and node.input[1] in inits:
            ins = list(node.input)
            x = ins[0]
            ins[0] = activation(x)
            w = numpy_helper.to_array(inits[ins[1]])
            if node.op_type == "Conv" or (node.op_type == "Gemm" and attr(node, "transB", 0)):
                axis = 0
            else:
                axis = 1
            axis = None if per_tensor else axis
            codes, scales, zeros = weight_codes(w, axis, weights, reduce_range)
            used.add(ins[1])
            ins[1] = dequantized(ins[1], codes, scales, zeros, axis)
            if len(ins) > 2 and ins[2] in inits and weights == "int8":
                bias = numpy_helper.to_array(inits[ins[2]]).astype(np.float32)
                bias_scales = (act_scale[x] * scales).astype(np.float32)
                per = bias_scales if len(bias_scales) > 1 else np.full(bias.shape, bias_scales[0])
                codes = np.round(bias / per).astype(np.int32)
                used.add(ins[2])
                ins[2] = dequantized(ins[2], codes, bias_scales, np.zeros(len(bias_scales), dtype=np.int32),
                                     None if len(bias_scales) == 1 else 0)
            rewritten = onnx.NodeProto()
            rewritten.CopyFrom(node)
            del rewritten.input[:]
            rewritten.input.extend(ins)
            node = rewritten
        nodes.append(node)
    return nodes, new_inits, used


def write_qdq(model, batch, out_path, per_tensor=False, weights="int8", reduce_range=False):
    nodes, new_inits, used = quantize(model, batch, per_tensor, weights, reduce_range)
    graph = model.graph
    kept = [t for t in graph.initializer if t.name not in used]
    out = helper.make_graph(nodes, graph.name, graph.input, graph.output, kept + new_inits)
    qdq = helper.make_model(out, opset_imports=[helper.make_opsetid("", 13)],
                            producer_name="make_qdq_fixtures.py (ONNX Runtime quantize_static QDQ layout)")
    qdq.ir_version = model.ir_version
    onnx.checker.check_model(qdq)
    onnx.save(qdq, out_path)


def fashion_mnist(n):
    with gzip.open(os.path.join(DATA, "train-images-idx3-ubyte.gz"), "rb") as f:
        raw = f.read()
    return (np.frombuffer(raw, dtype=np.uint8, offset=16)[:n * 784].reshape(n, 1, 28, 28) / 255.0).astype(np.float32)


def noisy_copies(x, n, seed):
    """`n` calibration samples: the fixture's inputs plus noise (its inputs are only a few)."""
    rng = np.random.default_rng(seed)
    picks = x[np.arange(n) % len(x)]
    return (picks + rng.normal(0, 0.1, picks.shape)).astype(np.float32)


def fixtures():
    out = os.path.join(ROOT, "tests", "fixtures", "onnx_qdq")
    src = os.path.join(ROOT, "tests", "fixtures", "onnx")
    cases = [("mlp", "mlp_per_channel", False, "int8", False),
             ("mlp", "mlp_uint8_weights", False, "uint8", False),
             ("mlp", "mlp_reduce_range", False, "int8", True),
             ("lenet5", "lenet5_per_channel", False, "int8", False),
             ("lenet5", "lenet5_per_tensor", True, "int8", False)]
    for source, name, per_tensor, weights, reduce_range in cases:
        x = np.load(os.path.join(src, source, "input.npy"))
        model = onnx.load(os.path.join(src, source, "model.onnx"))
        path = os.path.join(out, name)
        os.makedirs(path, exist_ok=True)
        write_qdq(model, noisy_copies(x, 64, 5), os.path.join(path, "model.onnx"), per_tensor, weights, reduce_range)
        np.save(os.path.join(path, "input.npy"), x.astype(np.float32))
        print("wrote", path)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("source", nargs="?")
    p.add_argument("out", nargs="?")
    p.add_argument("--per-tensor", action="store_true")
    p.add_argument("--weights", choices=["int8", "uint8"], default="int8")
    p.add_argument("--reduce-range", action="store_true")
    p.add_argument("--fashion-mnist", type=int, default=512)
    args = p.parse_args()
    if args.source is None:
        return fixtures()
    write_qdq(onnx.load(args.source), fashion_mnist(args.fashion_mnist), args.out, args.per_tensor, args.weights,
              args.reduce_range)


if __name__ == "__main__":
    main()
