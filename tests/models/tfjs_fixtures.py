"""Tiny TF.js graph models written the way the TF.js converter writes them, for tests."""

import base64
import json
import os

import numpy as np


def _s(text):
    return {"s": base64.b64encode(text.encode()).decode()}


def _list_s(*texts):
    return {"list": {"s": [base64.b64encode(t.encode()).decode() for t in texts]}}


def _ints(*values):
    return {"list": {"i": [str(v) for v in values]}}


def write_model(folder, size=8, channels=3, depth=4, dims=5, seed=0, extra_nodes=(), quantize=False, name="model"):
    """A face-recogniser-shaped graph: fused 3x3 conv (bias, ReLU) -> PReLU as TF.js writes it (relu(x) +
    alpha (x - |x|)) -> fused depthwise 3x3 (bias) -> mean over space -> fused matmul (bias) -> output.
    Written as ``name``.json and ``name``.bin. Returns (path of the .json, weights dict) so a test can compute the same with TensorFlow directly."""
    rng = np.random.default_rng(seed)
    w = {
        "conv_w": rng.normal(0, 0.3, (3, 3, channels, depth)).astype(np.float32),
        "conv_b": rng.normal(0, 0.1, depth).astype(np.float32),
        "alpha": np.full(depth, 0.125, np.float32),
        "dw_w": rng.normal(0, 0.3, (3, 3, depth, 1)).astype(np.float32),
        "dw_b": rng.normal(0, 0.1, depth).astype(np.float32),
        "axes": np.array([1, 2], np.int32),
        "fc_w": rng.normal(0, 0.3, (depth, dims)).astype(np.float32),
        "fc_b": rng.normal(0, 0.1, dims).astype(np.float32),
    }
    conv = {"strides": _ints(1, 1, 1, 1), "padding": _s("SAME"), "data_format": _s("NHWC"),
            "dilations": _ints(1, 1, 1, 1)}
    nodes = [
        {"name": "input", "op": "Placeholder",
         "attr": {"shape": {"shape": {"dim": [{"size": "-1"}, {"size": str(size)}, {"size": str(size)},
                                              {"size": str(channels)}]}}}},
        *({"name": k, "op": "Const", "attr": {}} for k in w),
        {"name": "conv", "op": "_FusedConv2D", "input": ["input", "conv_w", "conv_b"],
         "attr": {**conv, "fused_ops": _list_s("BiasAdd", "Relu"), "num_args": {"i": "1"}}},
        {"name": "abs", "op": "Abs", "input": ["conv"]},
        {"name": "sub", "op": "Sub", "input": ["conv", "abs"]},
        {"name": "mul", "op": "Mul", "input": ["sub", "alpha"]},
        {"name": "prelu", "op": "AddV2", "input": ["conv", "mul"]},
        {"name": "dw", "op": "FusedDepthwiseConv2dNative", "input": ["prelu", "dw_w", "dw_b"],
         "attr": {**conv, "fused_ops": _list_s("BiasAdd"), "num_args": {"i": "1"}}},
        {"name": "pool", "op": "Mean", "input": ["dw", "axes"], "attr": {"keep_dims": {"b": False}}},
        {"name": "out", "op": "_FusedMatMul", "input": ["pool", "fc_w", "fc_b"],
         "attr": {"fused_ops": _list_s("BiasAdd"), "transpose_a": {"b": False}, "transpose_b": {"b": False}}},
        *extra_nodes,
    ]
    manifest = [{"name": k, "shape": list(v.shape), "dtype": "int32" if v.dtype == np.int32 else "float32"}
                for k, v in w.items()]
    if quantize:
        manifest[0]["quantization"] = {"dtype": "uint8", "min": -1.0, "scale": 0.01}
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name + ".bin"), "wb") as f:
        for v in w.values():
            f.write(v.astype(v.dtype.newbyteorder("<")).tobytes())
    spec = {"format": "graph-model", "modelTopology": {"node": nodes},
            "weightsManifest": [{"paths": [name + ".bin"], "weights": manifest}]}
    path = os.path.join(folder, name + ".json")
    with open(path, "w") as f:
        json.dump(spec, f)
    return path, w


def reference(x, w):
    """What :func:`write_model`'s graph computes, written with TensorFlow directly."""
    import tensorflow as tf

    h = tf.nn.relu(tf.nn.conv2d(x, w["conv_w"], 1, "SAME") + w["conv_b"])
    h = h + w["alpha"] * (h - tf.abs(h))
    h = tf.nn.depthwise_conv2d(h, w["dw_w"], [1, 1, 1, 1], "SAME") + w["dw_b"]
    return tf.matmul(tf.reduce_mean(h, axis=[1, 2]), w["fc_w"]) + w["fc_b"]
