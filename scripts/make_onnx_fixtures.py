#!/usr/bin/python3
"""Builds the ONNX test fixtures in tests/fixtures/onnx/<name>/.

Each fixture directory holds model.onnx, input.npy and output.npy (the expected output computed
by PyTorch or NumPy, never by an ONNX runtime), and for error cases error.txt (a substring the
import error must contain) instead of the two tensors. Run with Debian's python3 (python3-torch,
python3-onnx):

    /usr/bin/python3 scripts/make_onnx_fixtures.py [OUT_DIR]

Everything is seeded, so re-running gives the same tensors (the .onnx bytes can differ across
PyTorch versions).
"""
import os
import shutil
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "fixtures", "onnx")
BATCH = 3


def fixture_dir(name):
    path = os.path.join(OUT, name)
    os.makedirs(path, exist_ok=True)
    return path


def save_tensors(name, x, y, pb=False):
    path = fixture_dir(name)
    np.save(os.path.join(path, "input.npy"), np.ascontiguousarray(x, dtype=np.float32))
    np.save(os.path.join(path, "output.npy"), np.ascontiguousarray(y, dtype=np.float32))
    if pb:
        with open(os.path.join(path, "input.pb"), "wb") as f:
            f.write(numpy_helper.from_array(x.astype(np.float32), "input").SerializeToString())


# --- PyTorch models -----------------------------------------------------------------------

class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 32)
        self.drop = nn.Dropout(0.2)
        self.fc2 = nn.Linear(32, 16)
        self.fc3 = nn.Linear(16, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        x = self.drop(F.relu(self.fc1(x)))
        x = torch.tanh(self.fc2(x))
        return self.fc3(x)


class LeNet5Caffe(nn.Module):
    """Caffe's LeNet: conv20-pool-conv50-pool-fc500-relu-fc10, no activation after the convs."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5)
        self.conv2 = nn.Conv2d(20, 50, 5)
        self.fc1 = nn.Linear(800, 500)
        self.fc2 = nn.Linear(500, 10)

    def forward(self, x):
        x = F.max_pool2d(self.conv1(x), 2)
        x = F.max_pool2d(self.conv2(x), 2)
        x = x.view(x.size(0), -1)  # exported as Shape -> Gather -> Unsqueeze -> Concat -> Reshape
        return self.fc2(F.relu(self.fc1(x)))


class SmallResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.conv3 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(8)
        self.down = nn.Conv2d(8, 12, 3, stride=2, padding=1)
        self.pool = nn.AvgPool2d(3, stride=2, padding=1)  # count_include_pad=True
        self.fc1 = nn.Linear(12, 16)
        self.bn4 = nn.BatchNorm1d(16)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(x)))
        y = self.bn3(self.conv3(y))
        x = F.relu(x + y)  # the residual block
        x = F.max_pool2d(x, 2)
        x = self.pool(F.relu(self.down(x)))
        x = F.adaptive_avg_pool2d(x, 1)
        x = x.view(x.size(0), -1)
        x = F.leaky_relu(self.bn4(self.fc1(x)), 0.1)
        return F.log_softmax(self.fc2(x), dim=1)


def randomize_batch_norm(model, generator):
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.num_features
            m.weight.data = 0.5 + torch.rand(n, generator=generator)
            m.bias.data = torch.randn(n, generator=generator) * 0.2
            m.running_mean = torch.randn(n, generator=generator) * 0.3
            m.running_var = 0.5 + torch.rand(n, generator=generator)


def export_torch(name, model, input_shape, opset=13, pb=False):
    generator = torch.Generator().manual_seed(1234)
    randomize_batch_norm(model, generator)
    model.eval()
    x = torch.randn((BATCH,) + input_shape, generator=generator)
    with torch.no_grad():
        y = model(x)
    path = fixture_dir(name)
    # PRESERVE keeps BatchNormalization as its own node (EVAL would fold it into the conv).
    torch.onnx.export(model, x, os.path.join(path, "model.onnx"), opset_version=opset,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(os.path.join(path, "model.onnx")))
    save_tensors(name, x.numpy(), y.numpy(), pb=pb)


# --- single-operator models built with onnx.helper ---------------------------------------

RNG = np.random.default_rng(7)


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def make_model(name, nodes, input_shape, output_shape, initializers=(), opset=13,
               x=None, expected=None, error=None):
    """input_shape/output_shape exclude the batch axis; initializers are (name, array)."""
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch"] + list(input_shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                       ["batch"] + list(output_shape) if output_shape is not None
                                       else None)],
        [numpy_helper.from_array(np.asarray(v), n) for n, v in initializers])
    model = helper.make_model(graph, producer_name="make_onnx_fixtures",
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7 if opset <= 13 else 8
    onnx.checker.check_model(model)
    path = fixture_dir(name)
    onnx.save(model, os.path.join(path, "model.onnx"))
    if error is not None:
        with open(os.path.join(path, "error.txt"), "w") as f:
            f.write(error + "\n")
    else:
        save_tensors(name, x, expected)


def t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def gemm_fixtures():
    x = rand(BATCH, 5)
    b = rand(5, 4)
    c = rand(4)
    make_model("gemm_alpha_beta_transb0",
               [helper.make_node("Gemm", ["x", "B", "C"], ["y"], alpha=0.5, beta=2.0)],
               [5], [4], [("B", b), ("C", c)], x=x, expected=0.5 * x @ b + 2.0 * c)
    bt = rand(4, 5)
    c2 = rand(1, 4)
    make_model("gemm_transb1_c_row",
               [helper.make_node("Gemm", ["x", "B", "C"], ["y"], transB=1)],
               [5], [4], [("B", bt), ("C", c2)], x=x, expected=x @ bt.T + c2)
    make_model("gemm_no_c",
               [helper.make_node("Gemm", ["x", "B"], ["y"], transB=1, alpha=1.5)],
               [5], [4], [("B", bt)], x=x, expected=1.5 * x @ bt.T)
    # transA=1 reads a transposed activation: Gemm(Transpose(x), transA=1) == x @ B.
    cs = np.array(0.25, dtype=np.float32)
    make_model("gemm_transa_scalar_c",
               [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0]),
                helper.make_node("Gemm", ["xt", "B", "C"], ["y"], transA=1, beta=-1.0)],
               [5], [4], [("B", b), ("C", cs)], x=x, expected=x @ b - 0.25)
    w = rand(6, 3)
    bias = rand(3)
    x6 = rand(BATCH, 6)
    make_model("matmul_add",
               [helper.make_node("MatMul", ["x", "W"], ["h"]),
                helper.make_node("Add", ["h", "bias"], ["y"])],
               [6], [3], [("W", w), ("bias", bias)], x=x6, expected=x6 @ w + bias)
    x3 = rand(BATCH, 2, 6)
    make_model("matmul_3d",
               [helper.make_node("MatMul", ["x", "W"], ["y"])],
               [2, 6], [2, 3], [("W", w)], x=x3, expected=x3 @ w)


def conv_fixtures():
    x = rand(BATCH, 2, 7, 7)
    w = rand(3, 2, 3, 3)
    b = rand(3)
    make_model("conv_same_upper_stride2",
               [helper.make_node("Conv", ["x", "W", "B"], ["y"], auto_pad="SAME_UPPER",
                                 strides=[2, 2])],
               [2, 7, 7], [3, 4, 4], [("W", w), ("B", b)], x=x,
               expected=F.conv2d(t(x), t(w), t(b), stride=2, padding=1).numpy())
    w5 = rand(3, 2, 5, 5)
    make_model("conv_same_lower_k5",
               [helper.make_node("Conv", ["x", "W"], ["y"], auto_pad="SAME_LOWER",
                                 kernel_shape=[5, 5])],
               [2, 7, 7], [3, 7, 7], [("W", w5)], x=x,
               expected=F.conv2d(t(x), t(w5), padding=2).numpy())
    x4 = rand(BATCH, 4, 9, 9)
    wg = rand(6, 2, 3, 3)
    bg = rand(6)
    make_model("conv_group_dilation",
               [helper.make_node("Conv", ["x", "W", "B"], ["y"], group=2, dilations=[2, 2],
                                 pads=[1, 1, 1, 1], strides=[2, 2])],
               [4, 9, 9], [6, 4, 4], [("W", wg), ("B", bg)], x=x4,
               expected=F.conv2d(t(x4), t(wg), t(bg), stride=2, padding=1, dilation=2,
                                 groups=2).numpy())
    make_model("conv_asymmetric_pads_error",
               [helper.make_node("Conv", ["x", "W"], ["y"], name="conv_asym",
                                 pads=[0, 0, 1, 1])],
               [2, 7, 7], [3, 6, 6], [("W", w)],
               error="node 'conv_asym' (Conv, opset 13)")
    wt = rand(2, 3, 3, 3)
    bt = rand(3)
    make_model("conv_transpose",
               [helper.make_node("ConvTranspose", ["x", "W", "B"], ["y"], strides=[2, 2],
                                 pads=[1, 1, 1, 1], output_padding=[1, 1])],
               [2, 7, 7], [3, 14, 14], [("W", wt), ("B", bt)], x=x,
               expected=F.conv_transpose2d(t(x), t(wt), t(bt), stride=2, padding=1,
                                           output_padding=1).numpy())


def pool_fixtures():
    x = rand(BATCH, 2, 7, 7)
    for include in (0, 1):
        make_model(f"avgpool_count_include_pad{include}",
                   [helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3],
                                     strides=[2, 2], pads=[1, 1, 1, 1],
                                     count_include_pad=include)],
                   [2, 7, 7], [2, 4, 4], x=x,
                   expected=F.avg_pool2d(t(x), 3, 2, 1, count_include_pad=bool(include)).numpy())
    make_model("maxpool_pads",
               [helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                                 pads=[1, 1, 1, 1])],
               [2, 7, 7], [2, 4, 4], x=x, expected=F.max_pool2d(t(x), 3, 2, 1).numpy())
    make_model("global_max_pool_flatten",
               [helper.make_node("GlobalMaxPool", ["x"], ["g"]),
                helper.make_node("Flatten", ["g"], ["y"], axis=1)],
               [2, 7, 7], [2], x=x, expected=x.max(axis=(2, 3)))


def activation_fixtures():
    x = rand(BATCH, 3, 4) * 4
    make_model("clip_opset9_attributes",
               [helper.make_node("Clip", ["x"], ["y"], min=-1.0, max=2.0)],
               [3, 4], [3, 4], opset=9, x=x, expected=np.clip(x, -1, 2))
    make_model("clip_opset11_inputs",
               [helper.make_node("Clip", ["x", "lo", "hi"], ["y"])],
               [3, 4], [3, 4], [("lo", np.array(-0.5, np.float32)), ("hi", np.array(1.5, np.float32))],
               opset=11, x=x, expected=np.clip(x, -0.5, 1.5))
    make_model("clip_opset13_max_only",
               [helper.make_node("Clip", ["x", "", "hi"], ["y"])],
               [3, 4], [3, 4], [("hi", np.array(6.0, np.float32))], x=x,
               expected=np.minimum(x, 6.0))
    make_model("hardsigmoid",
               [helper.make_node("HardSigmoid", ["x"], ["y"], alpha=0.3, beta=0.4)],
               [3, 4], [3, 4], x=x, expected=np.clip(0.3 * x + 0.4, 0, 1))
    make_model("hardswish_opset14",
               [helper.make_node("HardSwish", ["x"], ["y"])],
               [3, 4], [3, 4], opset=14, x=x, expected=F.hardswish(t(x)).numpy())
    make_model("leakyrelu_sigmoid_tanh",
               [helper.make_node("LeakyRelu", ["x"], ["a"], alpha=0.2),
                helper.make_node("Sigmoid", ["a"], ["b"]),
                helper.make_node("Tanh", ["x"], ["c"]),
                helper.make_node("Mul", ["b", "c"], ["y"])],
               [3, 4], [3, 4], x=x,
               expected=(torch.sigmoid(F.leaky_relu(t(x), 0.2)) * torch.tanh(t(x))).numpy())
    make_model("log_softmax_opset13",
               [helper.make_node("LogSoftmax", ["x"], ["y"])],
               [3, 4], [3, 4], x=x, expected=F.log_softmax(t(x), dim=-1).numpy())
    x2 = rand(BATCH, 10)
    make_model("softmax_opset11",
               [helper.make_node("Softmax", ["x"], ["y"], axis=1)],
               [10], [10], opset=11, x=x2, expected=F.softmax(t(x2), dim=1).numpy())
    make_model("dropout_identity_opset12",
               [helper.make_node("Dropout", ["x", "ratio"], ["d"]),
                helper.make_node("Identity", ["d"], ["y"])],
               [10], [10], [("ratio", np.array(0.3, np.float32))], opset=12, x=x2, expected=x2)


def shape_fixtures():
    x = rand(BATCH, 2, 3, 4)
    make_model("reshape_zero_minus_one",
               [helper.make_node("Reshape", ["x", "s"], ["y"])],
               [2, 3, 4], [6, 4], [("s", np.array([0, -1, 4], np.int64))], x=x,
               expected=x.reshape(BATCH, 6, 4))
    make_model("reshape_minus_one_batch",
               [helper.make_node("Reshape", ["x", "s"], ["y"])],
               [2, 3, 4], [24], [("s", np.array([-1, 24], np.int64))], x=x,
               expected=x.reshape(BATCH, 24))
    make_model("transpose",
               [helper.make_node("Transpose", ["x"], ["y"], perm=[0, 2, 3, 1])],
               [2, 3, 4], [3, 4, 2], x=x, expected=x.transpose(0, 2, 3, 1))
    x1 = rand(BATCH, 3, 1, 4)
    make_model("squeeze_unsqueeze_opset13",
               [helper.make_node("Squeeze", ["x", "sq"], ["a"]),
                helper.make_node("Unsqueeze", ["a", "un"], ["y"])],
               [3, 1, 4], [1, 3, 4, 1],
               [("sq", np.array([2], np.int64)), ("un", np.array([1, -1], np.int64))], x=x1,
               expected=x1.reshape(BATCH, 1, 3, 4, 1))
    make_model("squeeze_unsqueeze_opset11",
               [helper.make_node("Squeeze", ["x"], ["a"], axes=[2]),
                helper.make_node("Unsqueeze", ["a"], ["y"], axes=[1, 4])],
               [3, 1, 4], [1, 3, 4, 1], opset=11, x=x1, expected=x1.reshape(BATCH, 1, 3, 4, 1))
    make_model("concat_branches",
               [helper.make_node("Relu", ["x"], ["a"]),
                helper.make_node("Sigmoid", ["x"], ["b"]),
                helper.make_node("Concat", ["a", "b"], ["y"], axis=1)],
               [2, 3, 4], [4, 3, 4], x=x,
               expected=np.concatenate([np.maximum(x, 0), 1 / (1 + np.exp(-x))], axis=1))
    # The exporter pattern for x.view(x.size(0), -1), written out by hand at opset 11.
    make_model("shape_gather_concat_reshape_opset11",
               [helper.make_node("Shape", ["x"], ["shape"]),
                helper.make_node("Gather", ["shape", "zero"], ["n"], axis=0),
                helper.make_node("Unsqueeze", ["n"], ["n1"], axes=[0]),
                helper.make_node("Concat", ["n1", "minus_one"], ["target"], axis=0),
                helper.make_node("Reshape", ["x", "target"], ["y"])],
               [2, 3, 4], [24],
               [("zero", np.array(0, np.int64)), ("minus_one", np.array([-1], np.int64))],
               opset=11, x=x, expected=x.reshape(BATCH, 24))
    # Constant nodes and initializer arithmetic fold away at import.
    make_model("constant_folding_opset17",
               [helper.make_node("Constant", [], ["k"], value=numpy_helper.from_array(
                   np.array([0.5, -1.0, 2.0, 3.0], np.float32))),
                helper.make_node("Add", ["k", "c"], ["kc"]),
                helper.make_node("Sqrt", ["two"], ["root"]),
                helper.make_node("Mul", ["kc", "root"], ["scale"]),
                helper.make_node("Mul", ["x", "scale"], ["y"])],
               [2, 3, 4], [2, 3, 4],
               [("c", np.array([1.0, 1.0, 1.0, 1.0], np.float32)), ("two", np.array(2.0, np.float32))],
               opset=17, x=x,
               expected=x * ((np.array([0.5, -1, 2, 3], np.float32) + 1) * np.sqrt(np.float32(2))))


def broadcast_fixtures():
    x = rand(BATCH, 3, 4)
    c = rand(4)
    d = (np.abs(rand(3, 1)) + 0.5).astype(np.float32)
    make_model("sub_div_broadcast",
               [helper.make_node("Sub", ["x", "c"], ["a"]),
                helper.make_node("Div", ["d", "a"], ["b"]),
                helper.make_node("Sub", ["c", "x"], ["e"]),
                helper.make_node("Mul", ["b", "e"], ["y"])],
               [3, 4], [3, 4], [("c", c), ("d", d)], x=x,
               expected=(d / (x - c)) * (c - x))
    x4 = rand(BATCH, 3, 4, 4)
    make_model("dynamic_broadcast_sub",
               [helper.make_node("GlobalAveragePool", ["x"], ["m"]),
                helper.make_node("Sub", ["x", "m"], ["a"]),
                helper.make_node("Div", ["a", "s"], ["y"])],
               [3, 4, 4], [3, 4, 4], [("s", np.array([2.0], np.float32))], x=x4,
               expected=(x4 - x4.mean(axis=(2, 3), keepdims=True)) / 2.0)
    make_model("batchnorm_opset9",
               [helper.make_node("BatchNormalization", ["x", "g", "b", "m", "v"], ["y"],
                                 epsilon=1e-3)],
               [3, 4, 4], [3, 4, 4],
               [("g", rand(3)), ("b", rand(3)), ("m", rand(3)), ("v", np.abs(rand(3)) + 0.5)],
               opset=9, x=x4, expected=x4)  # replaced by fill_batchnorm_expected()


def error_fixtures():
    make_model("unsupported_operator",
               [helper.make_node("Relu", ["x"], ["r"], name="relu_0"),
                helper.make_node("Erf", ["r"], ["y"], name="erf_1")],
               [4], [4], error="node 'erf_1' (Erf, opset 13): operator Erf is not supported")
    bn = [("g", np.ones(2, np.float32)), ("b", np.zeros(2, np.float32)),
          ("m", np.zeros(2, np.float32)), ("v", np.ones(2, np.float32))]
    make_model("unsupported_attribute",
               [helper.make_node("BatchNormalization", ["x", "g", "b", "m", "v"], ["y"],
                                 name="bn", spatial=0)],
               [2, 3, 3], [2, 3, 3], initializers=bn, opset=8,
               error="node 'bn' (BatchNormalization, opset 8): spatial=0 normalizes every "
                     "element separately; shrink supports spatial=1 (per channel)")
    # An operator across the batch axis is read only as the one giving the graph output.
    make_model("across_batch_not_last_error",
               [helper.make_node("Softmax", ["x"], ["s"], name="norm", axis=0),
                helper.make_node("Relu", ["s"], ["y"])],
               [4], [4],
               error="node 'norm' (Softmax, opset 13): axis 0 normalizes across the batch; shrink "
                     "supports that only in the operator that gives the graph output")
    make_model("older_opset_batchnorm_training_error",
               [helper.make_node("BatchNormalization", ["x", "g", "b", "m", "v"], ["y"],
                                 name="bn")],
               [2, 3, 3], [2, 3, 3], initializers=bn, opset=6,
               error="node 'bn' (BatchNormalization, opset 6): before opset 7 BatchNormalization "
                     "differs: is_test=0, the default, normalizes with the batch's statistics; "
                     "shrink reads it with is_test=1")


# --- graphs with several inputs: input_0.npy, input_1.npy... in graph order -----------------

def multi_input_model(name, nodes, inputs, output_shape, initializers=(), feeds=None,
                      expected=None, error=None):
    """inputs are (name, shape with the batch axis, symbolic when it is a string)."""
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(shape)) for n, shape in inputs],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch"] + list(output_shape))],
        [numpy_helper.from_array(np.asarray(v), n) for n, v in initializers])
    model = helper.make_model(graph, producer_name="make_onnx_fixtures",
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    path = fixture_dir(name)
    onnx.save(model, os.path.join(path, "model.onnx"))
    if error is not None:
        with open(os.path.join(path, "error.txt"), "w") as f:
            f.write(error + "\n")
        return
    for k, x in enumerate(feeds):
        np.save(os.path.join(path, f"input_{k}.npy"), x.astype(np.float32))
    np.save(os.path.join(path, "output.npy"), expected.astype(np.float32))


def multi_input_fixtures():
    rng = np.random.default_rng(15)
    a = rng.standard_normal([BATCH, 4]).astype(np.float32)
    b = rng.standard_normal([BATCH, 4]).astype(np.float32)
    multi_input_model("two_inputs_mul_add",
                      [helper.make_node("Mul", ["a", "b"], ["ab"]),
                       helper.make_node("Add", ["ab", "a"], ["y"])],
                      [("a", ["batch", 4]), ("b", ["batch", 4])], [4], feeds=[a, b],
                      expected=a * b + a)
    # Two branches over two images meet in a Concat, then a Conv: a two-tower model.
    x = rng.standard_normal([BATCH, 2, 5, 5]).astype(np.float32)
    z = rng.standard_normal([BATCH, 1, 5, 5]).astype(np.float32)
    w = rng.standard_normal([3, 3, 3, 3]).astype(np.float32)
    expected = F.conv2d(t(np.concatenate([np.maximum(x, 0), z], axis=1)), t(w), padding=1).numpy()
    multi_input_model("two_inputs_concat_conv",
                      [helper.make_node("Relu", ["x"], ["rx"]),
                       helper.make_node("Concat", ["rx", "z"], ["xz"], axis=1),
                       helper.make_node("Conv", ["xz", "w"], ["y"], pads=[1, 1, 1, 1])],
                      [("x", ["batch", 2, 5, 5]), ("z", ["batch", 1, 5, 5])], [3, 5, 5],
                      [("w", w)], feeds=[x, z], expected=expected)
    multi_input_model("two_inputs_batch_mismatch_error",
                      [helper.make_node("Add", ["a", "b"], ["y"])],
                      [("a", [2, 4]), ("b", [3, 4])], [4],
                      error="graph input 'b' has batch size 3 but graph input 'a' has 2")
    # Inputs read as constants when loading: a weight given as a graph input (W: its leading
    # size happens to equal the batch's, but Conv needs it constant) and a broadcast operand
    # whose leading size is not the batch's (s). input_names.txt names the feeds.
    x = rng.standard_normal([2, 2, 5, 5]).astype(np.float32)
    w = rng.standard_normal([2, 2, 3, 3]).astype(np.float32)
    scale = rng.standard_normal([3]).astype(np.float32)
    multi_input_model("inputs_read_as_constants",
                      [helper.make_node("Conv", ["x", "W"], ["c"]),
                       helper.make_node("Mul", ["c", "s"], ["y"])],
                      [("x", [2, 2, 5, 5]), ("W", [2, 2, 3, 3]), ("s", [3])], [2, 3, 3],
                      feeds=[x, w, scale], expected=F.conv2d(t(x), t(w)).numpy() * scale)
    with open(os.path.join(fixture_dir("inputs_read_as_constants"), "input_names.txt"), "w") as f:
        f.write("x\nW\ns\n")


# --- crafted files: what a fuzzer or a hostile file would give -----------------------------
# Attribute values the ONNX checker does not look at (a zero stride), sizes that overflow,
# integers that do not survive a double, broken external data. Each must fail with one clear
# error (exit 2 on the command line), never a crash or an "internal failure". They skip the
# checker on purpose and draw from their own generator, so adding them changes no other fixture.

def unchecked_model(name, nodes, inputs, initializers=(), opset=13, error=None):
    graph = helper.make_graph(nodes, name, inputs,
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              initializers)
    model = helper.make_model(graph, producer_name="make_onnx_fixtures",
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7
    path = fixture_dir(name)
    onnx.save(model, os.path.join(path, "model.onnx"))
    with open(os.path.join(path, "error.txt"), "w") as f:
        f.write(error + "\n")
    return path


def image_input(*shape):
    return [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch"] + list(shape))]


def external_weight(path, offset, length):
    """A [4, 2] float initializer 'w' whose bytes live in w.bin beside the model."""
    with open(os.path.join(path, "w.bin"), "wb") as f:
        f.write(np.arange(8, dtype=np.float32).tobytes())
    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4, 2])
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "w.bin"), ("offset", offset), ("length", length)):
        entry = w.external_data.add()
        entry.key, entry.value = key, value
    return w


def crafted_fixtures():
    rng = np.random.default_rng(16)
    for name, op, extra in (("crafted_maxpool_zero_strides_ceil_mode", "MaxPool", {"ceil_mode": 1}),
                            ("crafted_avgpool_zero_strides_same_upper", "AveragePool",
                             {"auto_pad": "SAME_UPPER"})):
        unchecked_model(name, [helper.make_node(op, ["x"], ["y"], name="pool", kernel_shape=[2, 2],
                                                strides=[0, 0], **extra)],
                        image_input(1, 6, 6),
                        error=f"node 'pool' ({op}, opset 13): strides [0, 0] must lie between 1")
    unchecked_model("crafted_maxpool_without_kernel",
                    [helper.make_node("MaxPool", ["x"], ["y"], name="pool")], image_input(1, 6, 6),
                    error="node 'pool' (MaxPool, opset 13): attribute 'kernel_shape' is required")
    unchecked_model("crafted_input_size_overflow", [helper.make_node("Relu", ["x"], ["y"])],
                    image_input(2**31, 2**31, 2**31), error="has more elements than")
    unchecked_model("crafted_constant_of_shape_overflow",
                    [helper.make_node("ConstantOfShape", ["s"], ["c"]),
                     helper.make_node("Add", ["x", "c"], ["y"], name="add")],
                    image_input(4), [numpy_helper.from_array(np.array([2**62, 4], np.int64), "s")],
                    error="has more elements than")
    # No overflow, but 2^40 elements: folding must refuse rather than take all memory.
    unchecked_model("crafted_constant_of_shape_huge",
                    [helper.make_node("ConstantOfShape", ["s"], ["c"]),
                     helper.make_node("Add", ["x", "c"], ["y"], name="add")],
                    image_input(4), [numpy_helper.from_array(np.array([2**20, 2**20], np.int64), "s")],
                    error="shrink folds constants of at most")
    # A -1 beside sizes whose product overflows int64 (a fuzzer's find): the inferred size
    # divides by that product, which must be refused before it wraps.
    unchecked_model("crafted_reshape_target_overflow",
                    [helper.make_node("Reshape", ["x", "s"], ["y"], name="reshape")],
                    image_input(6, 4),
                    [numpy_helper.from_array(np.array([-1, 2**61, 2**61, 4], np.int64), "s")],
                    error="has more elements than")
    unchecked_model("crafted_clip_empty_bound",
                    [helper.make_node("Clip", ["x", "lo"], ["y"], name="clip")], image_input(4),
                    [numpy_helper.from_array(np.zeros([0], np.float32), "lo")],
                    error="node 'clip' (Clip, opset 13): min has shape [0]; it must hold one value")
    unchecked_model("crafted_transpose_bad_perm",
                    [helper.make_node("Transpose", ["w"], ["wt"], name="t", perm=[0, 5]),
                     helper.make_node("MatMul", ["x", "wt"], ["y"])], image_input(3),
                    [numpy_helper.from_array(rng.standard_normal([4, 3]).astype(np.float32), "w")],
                    error="node 't' (Transpose, opset 13): Transpose perm [0, 5] is not a permutation")
    for name, offset, length, error in (
            ("crafted_external_offset_not_a_number", "12abc", "32",
             "external data offset is '12abc', not a non-negative integer"),
            ("crafted_external_range_overflow", str(2**63 - 8), "100", "lies outside")):
        graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], name,
                                  image_input(4),
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
        model = helper.make_model(graph, producer_name="make_onnx_fixtures",
                                  opset_imports=[helper.make_opsetid("", 13)])
        model.ir_version = 7
        path = fixture_dir(name)
        model.graph.initializer.append(external_weight(path, offset, length))
        with open(os.path.join(path, "model.onnx"), "wb") as f:
            f.write(model.SerializeToString())
        with open(os.path.join(path, "error.txt"), "w") as f:
            f.write(error + "\n")
    # Not an error: PyTorch writes INT64_MAX for "to the end" of a Slice, which must survive.
    w = rng.standard_normal([4, 6]).astype(np.float32)
    x = rng.standard_normal([BATCH, 4]).astype(np.float32)
    make_model("slice_int64_max_end",
               [helper.make_node("Slice", ["w", "starts", "ends", "axes"], ["ws"]),
                helper.make_node("MatMul", ["x", "ws"], ["y"])],
               [4], [4],
               [("w", w), ("starts", np.array([2], np.int64)),
                ("ends", np.array([2**63 - 1], np.int64)), ("axes", np.array([1], np.int64))],
               x=x, expected=x @ w[:, 2:])


def fill_batchnorm_expected():
    """batchnorm_opset9's expected output, from its own initializers through PyTorch."""
    path = fixture_dir("batchnorm_opset9")
    model = onnx.load(os.path.join(path, "model.onnx"))
    init = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    x = rand(BATCH, 3, 4, 4)
    y = F.batch_norm(t(x), t(init["m"]), t(init["v"]), t(init["g"]), t(init["b"]),
                     training=False, eps=1e-3).numpy()
    save_tensors("batchnorm_opset9", x, y)


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    torch.manual_seed(0)
    export_torch("mlp", MLP(), (1, 28, 28), pb=True)
    torch.manual_seed(2)
    export_torch("lenet5", LeNet5Caffe(), (1, 28, 28))
    torch.manual_seed(3)
    export_torch("small_resnet", SmallResNet(), (1, 16, 16))
    torch.manual_seed(4)
    export_torch("small_resnet_opset11", SmallResNet(), (1, 16, 16), opset=11)
    torch.manual_seed(5)
    export_torch("small_resnet_opset17", SmallResNet(), (1, 16, 16), opset=17)
    gemm_fixtures()
    conv_fixtures()
    pool_fixtures()
    activation_fixtures()
    shape_fixtures()
    broadcast_fixtures()
    fill_batchnorm_expected()
    error_fixtures()
    multi_input_fixtures()
    crafted_fixtures()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print(f"wrote {len(os.listdir(OUT))} fixtures, {total / 1e6:.2f} MB, to {OUT}")


if __name__ == "__main__":
    main()
