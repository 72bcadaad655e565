"""Batch norm folded into the convolution before it, for exported inference graphs.

At inference a batch norm is a per-channel affine map of its input, ``y = s (x - mean) + beta`` with
``s = gamma / sqrt(var + eps)``. After a bias-free convolution it folds into that convolution's weights:
kernel ``s * W`` and bias ``beta - s * mean``. The folded network computes the same function (to float
rounding) with one pass over each activation instead of three, and the convolution, its bias and the
LeakyReLU after it match the pattern TensorFlow's graph optimiser fuses into one oneDNN kernel.

The networks here name each such pair ``<block>_conv`` and ``<block>_bn`` (:mod:`tfface.models`).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from tfface.models.upsampling import UpsamplingConv2D


class Folded(layers.Layer):
    """Where a batch norm was: its work is now in the convolution before it; a leaky ReLU the batch norm
    applied (``BatchNormalization(leaky_relu=...)``) stays here."""

    def __init__(self, leaky_relu=None, **kwargs):
        super().__init__(**kwargs)
        self.leaky_relu = leaky_relu

    def call(self, x, training=None, mask=None):
        return x if self.leaky_relu is None else ops.leaky_relu(x, self.leaky_relu)

    def get_config(self):
        return {**super().get_config(), "leaky_relu": self.leaky_relu}


def _partner(name, by_name):
    """The batch norm after a convolution ``<block>_conv`` (None when it has none, or is not a Conv2D)."""
    if not (name.endswith("_conv") and isinstance(by_name[name], (layers.Conv2D, UpsamplingConv2D))):
        return None
    return by_name.get(name[: -len("_conv")] + "_bn")


def _input_shapes(layer):
    """The shape (or, for a layer of several inputs, the list of shapes) ``layer`` was built for."""
    inputs = layer.input
    return [t.shape for t in inputs] if isinstance(inputs, (list, tuple)) else inputs.shape


def fold_batch_norm(model):
    """An inference copy of a functional ``model`` with every ``<block>_conv`` + ``<block>_bn`` pair folded
    into one biased convolution; every other layer is a copy with the same weights."""
    by_name = {layer.name: layer for layer in model.layers}
    folded_bn = {bn.name for bn in (_partner(n, by_name) for n in by_name) if bn is not None}

    def clone(layer):
        if layer.name in folded_bn:
            return Folded(getattr(layer, "leaky_relu", None), name=layer.name)
        bn = _partner(layer.name, by_name)
        if bn is None:
            return layer.__class__.from_config(layer.get_config())
        conv = layer.__class__.from_config({**layer.get_config(), "use_bias": True})
        kernel = np.asarray(layer.kernel, np.float32)
        gamma, beta, mean, var = (np.asarray(w, np.float32) for w in (bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance))
        scale = gamma / np.sqrt(var + bn.epsilon)
        bias = beta - mean * scale
        if layer.use_bias:
            bias = bias + np.asarray(layer.bias, np.float32) * scale
        conv.build(_input_shapes(layer))
        conv.set_weights([kernel * scale, bias])
        return conv

    out = keras.models.clone_model(model, clone_function=clone)
    for layer in out.layers:
        if layer.weights and layer.name not in folded_bn and _partner(layer.name, by_name) is None:
            layer.set_weights(by_name[layer.name].get_weights())
    return out
